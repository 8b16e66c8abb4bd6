"""Issue 15: the REPL cleans up when its terminal goes away (SIGHUP), and /resume of a session another
process has open is refused in one line (real REPLs in pseudo-terminals, real signals)."""

from __future__ import annotations

import os
import signal
import time

import pexpect
import pyte

from recording.reader import load_session
from scripted_server import Reply, ToolCall
from tests.repl import test_repl_pty
from tests.repl.test_repl_pty import COLUMNS, ROWS, _cmdline, wait_for_file
from tests.tools.proc_util import kill_quietly, process_alive

repl_factory = test_repl_pty.repl_factory  # the pty REPL fixture


def test_sighup_kills_the_running_command_and_closes_the_session(repl_factory, tmp_path, log_dir):
    started_file, nap = tmp_path / "started", f"40.{os.getpid()}3"
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"echo go > {started_file}; exec sleep {nap}"}, id="hup")]),
    ], "--sandbox", "off")  # no sandbox: its --die-with-parent would end the sleep anyway
    repl.type("wait for it")
    wait_for_file(started_file)
    deadline = time.monotonic() + 10
    while not (pids := [int(n) for n in os.listdir("/proc") if n.isdigit() and _cmdline(n) == f"sleep\0{nap}\0"]):
        assert time.monotonic() < deadline, "the command's sleep never started"
        time.sleep(0.02)
    try:
        repl.child.kill(signal.SIGHUP)
        repl.child.expect(pexpect.EOF, timeout=15)
        repl.child.close()
        assert repl.child.exitstatus == 129, (repl.child.signalstatus, repl.screen[-1500:])
        deadline = time.monotonic() + 5
        while process_alive(pids[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(pids[0]), "the command outlived the hung-up REPL"
    finally:
        kill_quietly(pids)
    [log] = log_dir.glob("session_*.jsonl")
    session = load_session(log)
    assert session.end is not None  # closed, not cut off
    assert session.messages[-1]["role"] == "tool" and "interrupted" in session.messages[-1]["content"]
    # The turn's live region is gone and the terminal's cursor (hidden while it was shown) is back.
    raw = repl.log.getvalue()
    assert raw.rfind("\x1b[?25h") > raw.rfind("\x1b[?25l") > 0
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.Stream(screen).feed(raw)
    assert "Ctrl-C interrupts" not in "\n".join(screen.display)


def test_resume_of_a_session_in_use_elsewhere_is_refused_and_this_one_goes_on(repl_factory, log_dir):
    _, first = repl_factory([Reply(content="first answer")])
    first.say("hello")
    [log] = log_dir.glob("session_*.jsonl")
    session_id = log.name.removeprefix("session_").removesuffix(".jsonl")
    llm, second = repl_factory([Reply(content="still here")])
    shown = second.output_of(f"/resume {session_id}")
    assert f"session {session_id} is in use by another hermes process" in shown
    second.say("are you there?")
    assert "still here" in second.screen
    assert [m["content"] for m in llm.chat_requests[0].body["messages"] if m["role"] == "user"] == ["are you there?"]
    assert first.quit() == 0 and second.quit() == 0
