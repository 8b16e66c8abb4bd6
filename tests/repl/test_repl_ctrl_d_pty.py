"""Ctrl-D while a turn streams, in the real REPL (pty, emulated screen): end of input, as at the
prompt. The turn finishes, lines queued before it still go out, then hermes exits; the input line
says so meanwhile, and typing takes it back."""

from __future__ import annotations

import pexpect

from scripted_server import Reply
from tests.repl.test_repl_live_pty import SENTENCE, screen_factory, user_texts  # noqa: F401 (fixture)

HINT = "Ctrl-D: hermes exits when this turn ends"


def _exit_status(screen) -> int:
    screen.child.expect(pexpect.EOF, timeout=20)
    screen.child.close()
    return screen.child.exitstatus


def test_ctrl_d_mid_stream_exits_once_the_turn_is_done(screen_factory):  # noqa: F811
    llm, screen = screen_factory([Reply(content=SENTENCE, chars_per_second=40)])
    screen.send_line("go")
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    screen.child.sendcontrol("d")
    screen.wait_for(lambda: "› " + HINT in screen.text)
    assert SENTENCE not in screen.text  # the answer goes on streaming: Ctrl-D did not cut it
    screen.wait_for(lambda: "hermes --continue" in screen.text)  # the exit hint after the full answer
    assert screen.text.count(SENTENCE) == 1
    assert _exit_status(screen) == 0
    assert len(llm.chat_requests) == 1


def test_typing_after_ctrl_d_takes_it_back(screen_factory):  # noqa: F811
    llm, screen = screen_factory([Reply(content=SENTENCE, chars_per_second=40), Reply(content="still here")])
    screen.send_line("go")
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    screen.child.sendcontrol("d")
    screen.wait_for(lambda: HINT in screen.text)
    screen.child.send("more")
    screen.wait_for(lambda: "› more" in screen.text and HINT not in screen.text)
    row = screen.wait_for(lambda: screen.prompt_row())
    assert screen.lines[row] == "❯ more"  # the REPL is still there, the text waiting in the prompt
    screen.child.send("\r")
    screen.wait_for(lambda: "still here" in screen.text)
    assert user_texts(llm.chat_requests[1])[-1] == "more"


def test_lines_queued_before_ctrl_d_are_sent_then_hermes_exits(screen_factory):  # noqa: F811
    llm, screen = screen_factory([Reply(content=SENTENCE, chars_per_second=40), Reply(content="the queued one")])
    screen.send_line("go")
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    screen.child.send("and then this\r")
    screen.wait_for(lambda: "queued: and then this" in screen.text)
    screen.child.sendcontrol("d")
    screen.wait_for(lambda: "the queued one" in screen.text)
    assert _exit_status(screen) == 0
    assert user_texts(llm.chat_requests[1]) == ["go", "and then this"]
