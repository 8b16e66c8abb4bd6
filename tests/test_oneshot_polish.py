"""Issue 16, item 5, one-shot side: -q tool lines name their key argument; stream-json lines have a
stable shape (type first) and number retry attempts as stderr does."""

from __future__ import annotations

import re

from scripted_server import Reply, ToolCall
from tests.conftest import run_hermes

KEY = "sk-test-0123456789abcdef"


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model"]


def test_quiet_tool_lines_show_the_key_argument_clipped_and_redacted(scripted_llm, tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    long_command = "echo " + "x" * 200
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("terminal", {"command": "ls -la"}, id="a"),
                          ToolCall("read_file", {"path": "notes.txt"}, id="b")]),
        Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {KEY}"}, id="c"),
                          ToolCall("terminal", {"command": long_command}, id="d")]),
        Reply(content="done"),
    ])
    result = run_hermes("-q", "go", *flags(llm), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"  ✓ terminal  ls -la \(\d+\.\d\ds\)", line) for line in lines), lines
    # (a relative path: the argument is clipped at 72 characters, and a tmp path's length varies)
    assert any("✓ read_file  notes.txt (" in line for line in lines), lines
    assert KEY not in result.stderr and any("terminal  echo [REDACTED]" in line for line in lines), lines
    long_line = next(line for line in lines if "echo xxx" in line)
    assert "…" in long_line and len(long_line) < 100


def test_stream_json_lines_start_with_their_type_and_retries_count_as_on_stderr(scripted_llm):
    html = "<html><body>busy</body></html>"
    replies = [Reply(body=html), Reply(tool_calls=[ToolCall("terminal", {"command": "true"})]), Reply(content="ok")]
    streamed = run_hermes("-p", "x", "--output-format", "stream-json", *flags(scripted_llm(replies)))
    assert streamed.returncode == 0, streamed.stderr
    lines = streamed.stdout.splitlines()
    assert all(line.startswith('{"type": "') for line in lines), lines
    import json

    events = [json.loads(line) for line in lines]
    assert list(events[1].keys())[0] == "type"
    (retry,) = [e for e in events if e["type"] == "retry"]
    assert list(retry) == ["type", "attempt", "max_attempts", "delay", "error"]
    plain = run_hermes("-p", "x", *flags(scripted_llm(replies)))
    (said,) = re.findall(r"attempt (\d+)/(\d+)", plain.stderr)
    assert (retry["attempt"], retry["max_attempts"]) == (int(said[0]), int(said[1]))
