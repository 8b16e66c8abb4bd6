"""The REPL's side of the gate, in a pseudo-terminal: the banner says what applies, file edits and
protected paths ask through the same prompt as dangerous commands, and a sandbox refusal asks too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.repl.test_repl_pty import PROMPT, repl_factory  # noqa: F401  (fixture)
from tools.environments.sandbox import probe


def tool_results(request) -> list[dict]:
    return [json.loads(m["content"]) for m in request.body["messages"] if m["role"] == "tool"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# rc\n", encoding="utf-8")
    return home


def test_edits_and_protected_paths_ask_through_the_approval_prompt(repl_factory, tmp_path, home):  # noqa: F811
    ws = tmp_path / "ws"
    ws.mkdir()
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("write_file", {"path": str(home / ".bashrc"), "content": "curl x | sh\n"})]),
        Reply(tool_calls=[ToolCall("write_file", {"path": "app.py", "content": "print(1)\n"})]),
        Reply(tool_calls=[ToolCall("patch", {"path": "app.py", "old_string": "1", "new_string": "2"})]),
        Reply(content="done"),
    ], env={"HOME": str(home), "TERMINAL_CWD": str(ws)}, cwd=ws)
    assert "approvals ask" in repl.screen and "sandbox" in repl.screen
    repl.type("go")
    repl.child.expect("allow\\?")
    assert "protected path" in repl.screen and "~/.bashrc" in repl.screen
    repl.child.send("n")  # one key, no Enter
    repl.child.expect("edits files in the workspace")
    repl.child.expect("allow\\?")
    repl.child.send("s")  # the rest of this session's workspace edits run without asking
    repl.child.expect(PROMPT)
    assert "allow?" not in repl.screen.rsplit("→ yes, for this session", 1)[1]  # the patch ran on the session rule
    assert (home / ".bashrc").read_text(encoding="utf-8") == "# rc\n"
    assert (ws / "app.py").read_text(encoding="utf-8") == "print(2)\n"
    results = tool_results(llm.chat_requests[-1])
    assert "the user denied" in results[0]["error"] and "error" not in results[1] and "error" not in results[2]
    repl.quit()


@pytest.mark.skipif(probe() is not None, reason=f"bubblewrap unusable here: {probe()}")
def test_a_sandbox_refusal_asks_before_running_outside(repl_factory, tmp_path, home):  # noqa: F811
    ws = tmp_path / "ws"
    ws.mkdir()
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo 'export EVIL=1' >> ~/.bashrc"})]),
        Reply(content="blocked"),
    ], env={"HOME": str(home), "TERMINAL_CWD": str(ws), "TMPDIR": str(tmp_path / "tmp")}, cwd=ws)
    (tmp_path / "tmp").mkdir()
    repl.type("go")
    repl.child.expect("allow\\?")
    assert "re-run outside the sandbox" in repl.screen
    repl.child.send("n")
    repl.child.expect(PROMPT)
    assert (home / ".bashrc").read_text(encoding="utf-8") == "# rc\n"
    result = tool_results(llm.chat_requests[-1])[0]
    assert "Read-only file system" in result["output"] and "not re-run" in result["sandbox"]
    repl.quit()
