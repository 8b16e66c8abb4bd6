"""Issue 16 item 3, in the real REPL in a pseudo-terminal: what a Ctrl-C cut short stays on
screen (the tool line, marked) and in the history (the partial answer, marked, as the assistant
message of the next request, recorded in the session log)."""

from __future__ import annotations

import json
import os
import re
import time

from scripted_server import Reply, ToolCall
from tests.repl import test_repl_pty
from tests.repl.test_repl_pty import PROMPT, wait_for_file

repl_factory = test_repl_pty.repl_factory  # the fixture: the REPL in a pty against the scripted server

MARK = "[interrupted by the user]"


def test_a_tool_call_cut_by_ctrl_c_keeps_its_line_marked_interrupted(repl_factory, tmp_path):
    started = tmp_path / "started"
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"echo go > {started}; sleep 31.{os.getpid()}"})]),
        Reply(content="after"),
    ])
    repl.type("wait for it")
    wait_for_file(started)
    time.sleep(0.2)
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    # (the command is clipped with "…" to fit the line when the tmp path is long)
    assert re.search(r"✗ terminal\s+echo go > \S+; sleep 31\.\d+…?\s+\S+s\s+interrupted", repl.screen), repl.screen[-1500:]
    assert repl.quit() == 0


def test_a_partial_answer_cut_by_ctrl_c_is_the_next_requests_assistant_message(repl_factory, hermetic_env):
    words = " ".join(f"w{i}" for i in range(60))
    llm, repl = repl_factory([Reply(content=words, chunk_delay=0.25, chunk_chars=6), Reply(content="fresh")])
    repl.type("stream slowly")
    repl.child.expect("w3 ")
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    repl.say("what did you say?")
    messages = llm.chat_requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    kept = messages[2]["content"]
    assert kept.startswith("w0 w1 w2 w3") and kept.endswith("\n\n" + MARK) and "w59" not in kept
    assert repl.quit() == 0
    (log,) = (hermetic_env / "logs").glob("session_*.jsonl")
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    recorded = [e for e in events if e["type"] == "message" and e.get("interrupted")]
    assert [e["message"]["content"] for e in recorded] == [kept]
    after = [e["type"] for e in events[events.index(recorded[0]):]]
    assert after[:2] == ["message", "interrupted"]  # the kept answer, then the interrupt, as it happened


def test_ctrl_c_before_any_text_still_keeps_user_and_assistant_alternating(repl_factory):
    llm, repl = repl_factory([Reply(content="too late", delay=30), Reply(content="second")])
    repl.type("wait")
    deadline = time.monotonic() + 20
    while not llm.chat_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    repl.say("again")
    messages = llm.chat_requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == MARK
    assert repl.quit() == 0
