"""Edits show a coloured diff (cut past DIFF_LINES, whole in /verbose); /verbose shows arguments and
results with real newlines and highlighted JSON; an interrupted call keeps its line, marked."""

from __future__ import annotations

import json

from agent.events import ToolStart
from hermes_cli.repl.tool_display import DIFF_LINES
from tests.repl.test_render import make, tool
from tools.file_patch import _diff


def long_diff(n: int = 30) -> str:
    before = "".join(f"old {i}\n" for i in range(n))
    after = "".join(f"new {i}\n" for i in range(n))
    return _diff("/w/demo.txt", before, after)


def test_a_patch_shows_its_diff_coloured_and_cut_with_a_note():
    renderer, out = make(color=True, width=100)
    tool(renderer, "1", "patch", {"path": "demo.txt", "old_string": "a", "new_string": "b"},
         {"path": "/w/demo.txt", "replacements": 30, "match": "exact", "diff": long_diff()}, 0.1)
    lines = out.text.splitlines()
    assert lines[0].strip().startswith("✓ patch  demo.txt")
    assert [line.strip() for line in lines[1:4]] == ["--- a/demo.txt", "+++ b/demo.txt", "@@ -1,30 +1,30 @@"]
    assert len(lines) == 1 + DIFF_LINES + 1 and lines[-1].strip() == f"… {63 - DIFF_LINES} more lines (/verbose)"
    assert "\x1b[31m-old 0" in out.raw  # removals red
    tool(renderer, "2", "patch", {"path": "demo.txt"}, {"diff": _diff("/w/demo.txt", "a\n", "b\n")}, 0.1)
    assert "\x1b[32m+b" in out.raw and "more lines" not in out.text.split("patch  demo.txt")[-1]  # additions green


def test_verbose_shows_the_whole_diff_and_never_escaped_strings():
    renderer, out = make(verbose=True, width=100)
    content = "first line\nsecond line\n"
    tool(renderer, "1", "write_file", {"path": "notes.txt", "content": content},
         {"path": "/w/notes.txt", "bytes_written": 23, "action": "created"}, 0.1)
    tool(renderer, "2", "patch", {"path": "demo.txt", "old_string": "x", "new_string": "y"},
         {"path": "/w/demo.txt", "replacements": 30, "match": "exact", "diff": long_diff()}, 0.1)
    tool(renderer, "3", "terminal", {"command": "printf 'a\\nb\\n'"}, {"output": "a\nb\n", "exit_code": 0}, 0.1)
    text = out.text
    assert "\\n" not in text.replace("printf 'a\\nb\\n'", ""), text  # no JSON escapes anywhere else
    assert "+first line" in text and "+second line" in text  # the created file as a diff
    assert "+new 29" in text and "more lines (/verbose)" not in text  # whole in /verbose
    assert '"bytes_written": 23' in text and '"exit_code": 0' in text  # the rest as JSON


def test_write_file_reports_an_overwrite_as_a_diff(tmp_path):
    from tools.file_write import write_file
    from tools.registry import ToolContext

    target = tmp_path / "a.txt"
    target.write_text("one\ntwo\n", encoding="utf-8")
    ctx = ToolContext(approval_mode="yolo")
    result = json.loads(write_file({"path": str(target), "content": "one\nTWO\n"}, ctx))
    assert result["action"] == "overwrote" and "-two\n+TWO\n" in result["diff"]


def test_an_interrupted_call_keeps_its_line_marked():
    renderer, out = make(width=100)
    renderer.start_turn()
    renderer.on_event(ToolStart("1", "terminal", {"command": "sleep 30"}))
    renderer.end_turn({"status": "interrupted"})
    assert any(line.strip().startswith("✗ terminal  sleep 30") and line.rstrip().endswith("interrupted")
               for line in out.text.splitlines()), out.text
