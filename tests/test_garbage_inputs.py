"""Garbage never reaches a traceback: bad bytes, bad arguments, bad ids, a log that cannot be written."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from agent.retry import RetryPolicy
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, read_jsonl, run_hermes

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, deadline=10)


def flags(server) -> list[str]:
    return ["--base-url", server.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


def run_bytes(args: list[bytes | str], stdin: bytes = b"", preexec=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERMES), *args], input=stdin, capture_output=True, timeout=60,
                          preexec_fn=preexec, env={**os.environ, **(env or {})})


def session_files(log_dir: Path) -> tuple[list[dict], dict]:
    log = next(log_dir.glob("session_*.jsonl"))
    return read_jsonl(log), json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))


def assert_no_temp_files(directory: Path) -> None:
    assert [p.name for p in directory.iterdir() if ".tmp" in p.name] == []


def test_non_utf8_prompt_argument_and_stdin(scripted_llm, log_dir):
    server = scripted_llm([Reply(content="first"), Reply(content="second")])
    one = run_bytes([b"-p", b"caf\xe9 \xff", *flags(server)])
    assert one.returncode == 0 and one.stdout == b"first\n" and one.stderr == b""
    two = run_bytes([*flags(server)], stdin=b"bytes \xfe\xff from a pipe")
    assert two.returncode == 0 and two.stdout == b"second\n", two.stderr
    sent = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    assert sent == ["caf\ufffd \ufffd", "bytes \ufffd\ufffd from a pipe"]
    for log in log_dir.glob("session_*.jsonl"):
        read_jsonl(log)
        conversation = json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))["conversations"]
        assert "\ufffd" in conversation[1]["value"]
    assert_no_temp_files(log_dir)


def test_emoji_split_across_chunks_is_printed_and_recorded(scripted_llm, log_dir):
    server = scripted_llm([Reply(content="1234567\ud83d\ude00 and a lone \ud83d half")])
    for output in ([], ["-q", "hi"]):
        result = run_bytes(["-p", "hi", *flags(server)] if not output else [*output, *flags(server)])
        assert result.returncode == 0, result.stderr
        assert "1234567😀 and a lone \ufffd half" in result.stdout.decode("utf-8")
        server.replies.append(Reply(content="1234567\ud83d\ude00 and a lone \ud83d half"))
    events, session = session_files(sorted(log_dir.glob("session_*.jsonl"))[0].parent)
    assert session["conversations"][-1]["value"].endswith("1234567😀 and a lone \ufffd half")
    assert_no_temp_files(log_dir)


UNREADABLE_ARGUMENTS = [
    '{"command": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"command": "echo", "n": ' + "9" * 5000 + "}",
    '{"command": "echo", "x": 1e999}',
    '{"command": ' + '{"a": ' * 150 + "1" + "}" * 150 + "}",
    '"just a string"',
    "\x00\x01 not json",
]


def test_unreadable_arguments_are_error_results_and_the_run_goes_on(scripted_llm, log_dir):
    calls = [ToolCall("terminal", arguments) for arguments in UNREADABLE_ARGUMENTS]
    server = scripted_llm([Reply(tool_calls=calls), Reply(content="recovered")])
    result = run_hermes("-p", "hi", *flags(server), "--output-format", "stream-json")
    assert result.returncode == 0, result.stderr
    lines = result.json_lines()
    assert lines[-1]["answer"] == "recovered"
    ends = [line for line in lines if line["type"] == "tool_end"]
    assert len(ends) == len(UNREADABLE_ARGUMENTS)
    for end in ends:
        assert "error" in json.loads(end["result"]) and len(end["result"]) < 500
    events, _ = session_files(log_dir)
    assert events[-1]["type"] == "session_end"


def test_calls_without_ids_carry_one_id_in_call_and_result_on_a_strict_endpoint(scripted_llm, log_dir):
    calls = [ToolCall("terminal", {"command": "echo a"}), ToolCall("terminal", {"command": "echo b"})]
    server = scripted_llm([Reply(tool_calls=calls, omit_call_ids=True), Reply(content="both ran")], strict=True)
    result = run_hermes("-p", "hi", *flags(server))
    assert result.returncode == 0 and result.stdout == "both ran\n", result.stderr
    assert server.rejections == []
    messages = server.chat_requests[1].body["messages"]
    call_ids = [c["id"] for c in messages[2]["tool_calls"]]
    assert len(set(call_ids)) == 2 and all(call_ids)
    assert [m["tool_call_id"] for m in messages[3:5]] == call_ids
    events, _ = session_files(log_dir)
    recorded = [e["message"] for e in events if e["type"] == "message"]
    assert [c["id"] for c in recorded[1]["tool_calls"]] == call_ids
    assert [m["tool_call_id"] for m in recorded[2:4]] == call_ids


def test_same_invalid_json_call_repeated_is_stopped_within_a_few_turns(scripted_llm):
    server = scripted_llm(default=Reply(tool_calls=[ToolCall("terminal", '{"command": "ls"')]))
    agent = AIAgent(model="m", base_url=server.base_url, api_key="k", retry_policy=FAST,
                    enabled_toolsets=["terminal"], record=False)
    result = agent.run_conversation("go")
    assert result["status"] == "loop_detected" and len(server.chat_requests) <= 6


def test_huge_streamed_tool_arguments_arrive_whole(scripted_llm, tmp_path):
    content = "x" * 1_000_000
    target = tmp_path / "big.txt"
    server = scripted_llm([Reply(tool_calls=[ToolCall("write_file", {"path": str(target), "content": content})],
                                 chunk_chars=64), Reply(content="written")])
    agent = AIAgent(model="m", base_url=server.base_url, api_key="k", retry_policy=FAST,
                    enabled_toolsets=["file"], record=False, yolo=True)
    result = agent.run_conversation("write it")
    assert result["status"] == "success", result
    assert target.read_text() == content


def test_unwritable_log_directory_keeps_the_answer(scripted_llm, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: make the "directory" a file instead
        blocked = tmp_path / "not-a-dir"
        blocked.write_text("")
        log_dir = blocked / "logs"
    else:
        blocked = tmp_path / "ro"
        blocked.mkdir(mode=0o500)
        log_dir = blocked / "logs"
    server = scripted_llm([Reply(content="the answer")])
    result = run_hermes("-p", "hi", *flags(server), env={"HERMES_LOG_DIR": str(log_dir)})
    assert result.returncode == 0 and result.stdout == "the answer\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hermes: warning: cannot record this session in")
    assert "HERMES_LOG_DIR" in lines[0] and "Traceback" not in result.stderr


def test_full_disk_mid_run_keeps_the_answer_and_a_parseable_log(scripted_llm, log_dir):
    # RLIMIT_FSIZE: writes past the limit fail with EFBIG, as on a full disk. The log's start fits;
    # the tool's big output and the answer do not.
    answer = "A" * 200_000
    server = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "head -c 300000 /dev/zero | tr '\\0' b"})]),
                           Reply(content=answer)])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (120_000, 120_000))

    result = run_bytes(["-p", "hi", *flags(server)], preexec=limit)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == answer + "\n"
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("hermes: warning:")]
    assert 1 <= len(warnings) <= 2 and all("File too large" in w for w in warnings), stderr
    log = next(log_dir.glob("session_*.jsonl"))
    lines = log.read_text(encoding="utf-8").splitlines()
    for line in lines[:-1]:
        json.loads(line)  # every complete line parses; only the last may be cut
    json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))
    assert_no_temp_files(log_dir)


def test_tool_output_naming_files_that_are_not_utf8_reaches_the_model_and_the_log(scripted_llm, tmp_path, log_dir):
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    server = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"ls {tmp_path}"}),
                                             ToolCall("search_files", {"pattern": "caf", "path": str(tmp_path),
                                                                       "target": "files"})]),
                           Reply(content="listed")])
    agent = AIAgent(model="m", base_url=server.base_url, api_key="k", retry_policy=FAST,
                    enabled_toolsets=["terminal", "file"])
    result = agent.run_conversation("list")
    agent.close()
    assert result["status"] == "success", result["error"]
    outputs = [m["content"] for m in server.chat_requests[1].body["messages"] if m["role"] == "tool"]
    assert all("caf\ufffd.txt" in out for out in outputs)
    _, session = session_files(log_dir)
    assert session["message_count"] == 5
    assert_no_temp_files(log_dir)
