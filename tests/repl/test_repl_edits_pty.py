"""Issue 16 item 3 in the real REPL in a pseudo-terminal: an edit shows its diff under the tool
line, and /verbose shows arguments and results with real newlines, never escaped JSON strings."""

from __future__ import annotations

import re

from scripted_server import Reply, ToolCall
from tests.repl import test_repl_pty

repl_factory = test_repl_pty.repl_factory  # the fixture: the REPL in a pty against the scripted server


def test_patch_shows_a_diff_and_verbose_shows_real_newlines(repl_factory, tmp_path):
    (tmp_path / "demo.txt").write_text("alpha\nbeta\ngamma\n", encoding="utf-8")
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("patch", {"path": "demo.txt", "old_string": "beta", "new_string": "BETA"})]),
        Reply(content="patched"),
        Reply(tool_calls=[ToolCall("write_file", {"path": "notes.md", "content": "first note\nsecond \"quoted\" note\n"})]),
        Reply(content="written"),
    ], "--approval-mode", "auto-edit", cwd=tmp_path, env={"TERMINAL_CWD": str(tmp_path)})
    shown = repl.output_of("fix it")
    assert re.search(r"✓ patch\s+demo\.txt.*\n\s+--- a/demo\.txt\n\s+\+\+\+ b/demo\.txt\n\s+@@ -1,3 \+1,3 @@\n"
                     r"\s+alpha\n\s+-beta\n\s+\+BETA\n\s+gamma", shown), shown
    assert "verbose on" in repl.output_of("/verbose")
    shown = repl.output_of("write notes")
    assert re.search(r"✓ write_file\s+notes\.md", shown)
    assert re.search(r"│ content:\s+│\n│?\s*│ first note\s+│\n\s*│ second \"quoted\" note", shown), shown
    assert "\\n" not in shown and '\\"' not in shown  # nothing escaped
    assert re.search(r"\+first note\n\s+\+second \"quoted\" note", shown)  # the new file as a diff
    assert (tmp_path / "notes.md").read_text(encoding="utf-8").startswith("first note")
    assert repl.quit() == 0
