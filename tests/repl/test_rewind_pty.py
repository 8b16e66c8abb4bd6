"""/rewind in the real REPL (pseudo-terminal) against the scripted server: the list, the question,
the files on disk, what the model is sent next, and the same after --continue."""

from __future__ import annotations

import json
from pathlib import Path

from scripted_server import Reply, ToolCall
from tests.repl.test_repl_pty import PROMPT, repl_factory, user_texts  # noqa: F401 (fixture)

YOLO = ("--approval-mode", "yolo")


def turns() -> list[Reply]:
    return [
        Reply(tool_calls=[ToolCall("write_file", {"path": "hello.py", "content": "print('hello')\n"})]),
        Reply(content="wrote hello.py"),
        Reply(tool_calls=[ToolCall("patch", {"path": "hello.py", "old_string": "hello", "new_string": "bye"})]),
        Reply(content="patched it"),
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo changed > notes.txt; echo made > made.txt"})]),
        Reply(content="ran it"),
    ]


def test_rewind_lists_turns_asks_and_restores_files_and_chat(repl_factory, tmp_path):  # noqa: F811
    (tmp_path / "notes.txt").write_text("mine\n")
    llm, repl = repl_factory([*turns(), Reply(content="after the rewind")], *YOLO, cwd=tmp_path)
    for prompt in ("write hello", "patch hello", "run the shell"):
        repl.say(prompt)
    assert (tmp_path / "made.txt").exists() and (tmp_path / "hello.py").read_text() == "print('bye')\n"

    repl.type("/rewind")
    repl.child.expect("Enter cancels")
    screen = repl.screen
    assert "write hello" in screen and "patch hello" in screen and "run the shell" in screen
    assert "hello.py (created)" in screen and "made.txt (created)" in screen
    repl.child.send("2\r")
    repl.child.expect(PROMPT)
    assert "rewound to before turn 2" in repl.screen
    assert (tmp_path / "hello.py").read_text() == "print('hello')\n"
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and not (tmp_path / "made.txt").exists()

    repl.say("what now?")
    assert user_texts(llm.chat_requests[-1]) == ["write hello", "what now?"]
    assert repl.quit() == 0


def test_rewind_after_continue_and_a_conflict_is_reported(repl_factory, tmp_path, log_dir):  # noqa: F811
    llm, repl = repl_factory(turns()[:4], *YOLO, cwd=tmp_path)
    repl.say("write hello")
    repl.say("patch hello")
    repl.quit()
    (tmp_path / "extra.txt").write_text("not hermes\n")

    llm2, repl2 = repl_factory([Reply(content="fine")], *YOLO, "--continue", cwd=tmp_path)
    (tmp_path / "hello.py").write_text("edited by hand\n")
    out = repl2.output_of("/rewind 1 files")
    assert "kept hello.py" in out and "changed since" in out
    assert (tmp_path / "hello.py").read_text() == "edited by hand\n"
    out = repl2.output_of("/rewind 1 files force")
    assert not (tmp_path / "hello.py").exists() and (tmp_path / "extra.txt").exists()
    out = repl2.output_of("/rewind 2 chat")
    assert "removed turn 2" in out
    repl2.say("continue")
    assert user_texts(llm2.chat_requests[-1]) == ["write hello", "continue"]
    out = repl2.output_of("/rewind 9")
    assert "no turn 9" in out
    repl2.quit()
    log = next(log_dir.glob("session_*.jsonl"))
    edits = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()
             if '"history_edit"' in line]
    assert [(e["action"], e["restore"], e["removed_count"] > 0) for e in edits] == [
        ("rewind", "files", False), ("rewind", "files", False), ("rewind", "chat", True)]
    assert Path(edits[1]["files"]["forced"][0]).name == "hello.py"


def test_a_one_shot_run_can_be_rewound_from_the_repl(repl_factory, scripted_llm, tmp_path):  # noqa: F811
    from tests.conftest import run_hermes

    (tmp_path / "config.ini").write_text("debug = false\n")
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("write_file", {"path": "config.ini", "content": "debug = true\n"}),
                          ToolCall("terminal", {"command": "echo log > run.log"})]),
        Reply(content="done"),
    ])
    result = run_hermes("-p", "turn debugging on", "--base-url", llm.base_url, "--api-key", "sk-test-0123456789",
                        "--model", "scripted-model", *YOLO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "config.ini").read_text() == "debug = true\n" and (tmp_path / "run.log").exists()

    llm2, repl = repl_factory([Reply(content="ok")], *YOLO, "--continue", cwd=tmp_path)
    out = repl.output_of("/rewind 1")
    assert "rewound to before turn 1" in out
    assert (tmp_path / "config.ini").read_text() == "debug = false\n" and not (tmp_path / "run.log").exists()
    repl.say("fresh")
    assert user_texts(llm2.chat_requests[-1]) == ["fresh"]
    repl.quit()
