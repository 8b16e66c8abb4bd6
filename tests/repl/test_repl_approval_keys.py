"""Issue 16 item 2, in the real REPL in a pseudo-terminal: approvals in one keypress, Enter = the
default shown, a ticking countdown, a timeout reported as a timeout, Ctrl-C denying and stopping
the turn, "always" printing the rule it stores. Plus the one-shot side of the same gate."""

from __future__ import annotations

import json
import re

from scripted_server import Reply, ToolCall
from tests.conftest import run_hermes
from tests.repl import test_repl_pty
from tests.repl.test_repl_pty import PROMPT

repl_factory = test_repl_pty.repl_factory  # the fixture: the REPL in a pty against the scripted server


def rm_rf(target) -> Reply:
    return Reply(tool_calls=[ToolCall("terminal", {"command": f"rm -rf {target}"}, id="rm")])


def tool_result(request) -> str:
    return next(m for m in request.body["messages"] if m["role"] == "tool" and m["tool_call_id"] == "rm")["content"]


def test_a_single_key_answers_without_enter(repl_factory, tmp_path):
    target = tmp_path / "junk"
    target.mkdir()
    llm, repl = repl_factory([rm_rf(target), Reply(content="deleted it")])
    repl.type("clean up")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.send("y")  # no Enter
    repl.child.expect("deleted it")
    repl.child.expect(PROMPT)
    assert not target.exists()
    assert "→ yes, once" in repl.screen
    assert "denied" not in tool_result(llm.chat_requests[1])
    assert repl.quit() == 0


def test_enter_takes_the_default_shown_which_is_no(repl_factory, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    llm, repl = repl_factory([rm_rf(target), Reply(content="left it alone")])
    repl.type("clean up")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.expect(r"Enter = no")
    repl.child.send("\r")
    repl.child.expect(PROMPT)
    assert target.exists() and "→ no" in repl.screen
    assert "the user denied this command" in json.loads(tool_result(llm.chat_requests[1]))["error"]
    assert repl.quit() == 0


def test_countdown_ticks_and_a_timeout_reaches_the_model_as_a_timeout(repl_factory, tmp_path, hermetic_env):
    (hermetic_env / "config.yaml").write_text("approvals:\n  timeout: 3\n", encoding="utf-8")
    target = tmp_path / "precious"
    target.mkdir()
    llm, repl = repl_factory([rm_rf(target), Reply(content="it timed out")])
    repl.type("clean up")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.expect("timed out", timeout=15)
    repl.child.expect(PROMPT)
    raw = repl.log.getvalue()
    question = raw[raw.index("[y/N/s/a]"):]
    # prompt_toolkit redraws only what changed: each tick writes the new number in the countdown's colour
    seconds = [int(n) for n in re.findall(r"\x1b\[0;33m(\d+)", question)]
    assert seconds[:3] == [3, 2, 1], seconds
    assert target.exists()
    error = json.loads(tool_result(llm.chat_requests[1]))["error"]
    assert error.startswith("approval timed out") and "within 3 s" in error and "user denied" not in error
    assert "no answer in time" in repl.screen
    assert repl.quit() == 0
    (log,) = (hermetic_env / "logs").glob("session_*.jsonl")
    recorded = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert any(e.get("type") == "message" and "approval timed out" in str(e.get("message", {}).get("content"))
               for e in recorded), "the timeout is recorded in the session log"


def test_ctrl_c_at_the_question_denies_and_stops_the_turn(repl_factory, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    llm, repl = repl_factory([rm_rf(target), Reply(content="never asked for this turn"), Reply(content="fresh")])
    repl.type("clean up")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    assert target.exists() and len(llm.chat_requests) == 1  # no further model call after the Ctrl-C
    assert "never asked" not in repl.screen and "interrupted" in repl.screen
    repl.say("go on")
    error = json.loads(tool_result(llm.chat_requests[1]))["error"]
    assert error.startswith("interrupted: the user pressed Ctrl-C at the approval question")
    assert repl.quit() == 0


def test_oneshot_says_no_one_could_answer_not_that_the_user_denied(scripted_llm, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    llm = scripted_llm([rm_rf(target), Reply(content="skipped")])
    result = run_hermes("-p", "clean up", "--base-url", llm.base_url, "--api-key", "sk-test-0123456789",
                        "--model", "scripted-model")
    assert result.returncode == 0, result.stderr
    error = json.loads(tool_result(llm.chat_requests[1]))["error"]
    assert "cannot be given in non-interactive mode" in error
    assert "denied" not in error and "timed out" not in error
    assert target.exists()


def test_a_key_typed_before_the_question_does_not_answer_it(repl_factory, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    llm, repl = repl_factory([Reply(tool_calls=[ToolCall("terminal", {"command": f"rm -rf {target}"}, id="rm")],
                                    delay=1.0), Reply(content="kept")])
    repl.type("clean up")
    repl.child.send("y")  # typed ahead while the model thinks: meant for something else
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.expect(r"Enter = no")
    assert "→" not in repl.screen.rsplit("[y/N/s/a]", 1)[1]  # still waiting
    repl.child.send("n")
    repl.child.expect(PROMPT)
    assert target.exists() and "→ no" in repl.screen
    # the early key was type-ahead: it waits in the input line instead of answering
    repl.child.expect("y")
    assert repl.screen.rsplit(PROMPT, 1)[1].strip().startswith("y")
    repl.child.sendcontrol("u")
    assert repl.quit() == 0


def test_parallel_calls_ask_one_at_a_time(repl_factory, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"rm -rf {first}"}, id="a"),
                          ToolCall("terminal", {"command": f"rm -rf {second}"}, id="b")]),
        Reply(content="one of two"),
    ])
    repl.type("clean both")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.expect(r"Enter = no")
    repl.child.send("y")
    repl.child.expect(r"→ yes, once")
    repl.child.expect(r"Enter = no")
    repl.child.send("n")
    repl.child.expect(PROMPT)
    assert first.exists() != second.exists()  # one allowed, one denied, whichever asked first
    results = [m for m in llm.chat_requests[1].body["messages"] if m["role"] == "tool"]
    assert sum("the user denied" in m["content"] for m in results) == 1
    assert repl.quit() == 0


def test_ctrl_c_at_the_question_also_stops_a_turn_of_tool_calls_written_in_text(repl_factory, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    call = json.dumps({"name": "terminal", "arguments": {"command": f"rm -rf {target}"}})
    llm, repl = repl_factory([Reply(content=f"<tool_call>\n{call}\n</tool_call>"), Reply(content="never asked")])
    repl.type("clean up")
    repl.child.expect(r"\[y/N/s/a\]")
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    assert target.exists() and len(llm.chat_requests) == 1
    assert repl.quit() == 0
