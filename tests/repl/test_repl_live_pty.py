"""Issue 16: live streaming, the status line and type-ahead, on the real REPL in a pseudo-terminal.

The screen is emulated with pyte, so assertions are about what a user sees where: text shown
before its line is complete, the status line below it while the model works, typed keys in the
input line and not in the answer, a code block re-drawn highlighted once it closes.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable

import pexpect
import pyte
import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES

COLUMNS, LINES = 100, 30
STATUS = re.compile(r"(\d+\.\d)s · .*Ctrl-C interrupts")


class Screen:
    """The REPL in a pty, its output fed to an emulated screen."""

    def __init__(self, llm) -> None:
        env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", HERMES_DISABLE_SPINNER="1")
        env.pop("NO_COLOR", None)
        argv = [str(HERMES), "--base-url", llm.base_url, "--api-key", "sk-test-0123456789", "--model", "scripted-model"]
        self.child = pexpect.spawn(sys.executable, argv, env=env, encoding="utf-8", dimensions=(LINES, COLUMNS),
                                   timeout=20)
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.Stream(self.screen)
        self.wait_for(lambda: self.prompt_row() is not None)

    def pump(self, seconds: float = 0.02) -> None:
        try:
            self.stream.feed(self.child.read_nonblocking(1 << 16, timeout=seconds))
        except pexpect.TIMEOUT:
            pass

    def wait_for(self, check: Callable[[], object], timeout: float = 20.0) -> object:
        """Read output until `check()` is truthy (an upper bound, not a delay)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            if result := check():
                return result
        raise AssertionError("screen never matched:\n" + self.text)

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def prompt_row(self) -> int | None:
        """The row of the real prompt (❯), once the turn is over."""
        rows = [i for i, line in enumerate(self.lines) if line.strip()]
        last = rows[-1] if rows else None
        if last is None or not self.lines[last].startswith("❯") or STATUS.search(self.text):
            return None
        return last

    def send_line(self, text: str) -> None:
        self.child.send(text)
        self.wait_for(lambda: text in self.text)
        self.child.send("\r")

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def screen_factory(scripted_llm):
    screens = []

    def start(replies):
        llm = scripted_llm(replies)
        screens.append(Screen(llm))
        return llm, screens[-1]

    yield start
    for screen in screens:
        screen.close()


def user_texts(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "user"]


SENTENCE = "Streaming shows every word as it arrives, long before this very line of the answer is complete."


def test_slow_stream_shows_text_before_its_line_is_complete_under_a_status_line(screen_factory):
    llm, screen = screen_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "sleep 0.8"})]),
        Reply(content=SENTENCE, chars_per_second=40),
    ])
    screen.send_line("go")
    # While the command runs, the status line names it and counts the turn's time.
    screen.wait_for(lambda: "terminal  sleep 0.8" in screen.text and STATUS.search(screen.text))
    # The answer shows word by word: the first words are on screen while the line is far from done.
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    assert SENTENCE not in screen.text
    row = next(i for i, line in enumerate(screen.lines) if line.startswith("Streaming shows"))
    status = STATUS.search(screen.lines[row + 1])  # right below the growing line
    assert status and "writing…" in screen.lines[row + 1]
    first = float(status.group(1))
    later = screen.wait_for(lambda: (m := STATUS.search(screen.text)) and float(m.group(1)) > first and m)
    assert "tok/s" in later.group(0)  # still there, time moving, and a rate once text flows
    screen.wait_for(lambda: "tokens in" in screen.text)  # the footer: the turn is over
    assert screen.text.count(SENTENCE) == 1
    assert not STATUS.search(screen.text)  # the status line went with the turn
    assert screen.wait_for(lambda: screen.prompt_row()) is not None


def test_type_ahead_is_held_in_the_input_line_and_sent_after_the_turn(screen_factory):
    answer = "The first answer streams slowly while the user types the next question below it."
    llm, screen = screen_factory([
        Reply(content=answer, chars_per_second=40),
        Reply(content="Second answer, also slow enough to type into.", chars_per_second=40),
        Reply(content="third"),
    ])
    screen.send_line("first question")
    screen.wait_for(lambda: "The first answer" in screen.text)
    screen.child.send("next questionx")
    screen.child.send("\x7f")  # Backspace edits the held line
    screen.wait_for(lambda: "› next question" in screen.text and "questionx" not in screen.text)
    # Only the input line has it: not one answer row.
    assert [line for line in screen.lines if "next question" in line] == ["› next question"]
    screen.child.send("\r")  # sent ahead: goes to the model when this turn ends
    screen.wait_for(lambda: "Second answer" in screen.text)
    assert screen.text.count(answer) == 1  # the first answer was not broken up by the typing
    assert "❯ next question" in screen.lines
    assert user_texts(llm.chat_requests[1]) == ["first question", "next question"]
    assert llm.chat_requests[1].body["messages"][2]["content"] == answer
    # Typed without Enter: it waits in the next prompt, editable, and Enter sends it.
    screen.child.send("draft")
    screen.wait_for(lambda: "› draft" in screen.text)
    row = screen.wait_for(lambda: screen.prompt_row())
    assert screen.lines[row] == "❯ draft"
    screen.child.send(" more\r")
    screen.wait_for(lambda: "third" in screen.text)
    assert user_texts(llm.chat_requests[2])[-1] == "draft more"


def test_code_block_is_shown_plain_while_open_and_highlighted_once_closed(screen_factory):
    reply = "Here it is:\n\n```python\ndef answer():\n    return 42\n```\n\nThat is all."
    llm, screen = screen_factory([Reply(content=reply, chars_per_second=30)])
    screen.send_line("code please")

    def code_row() -> int | None:
        return next((i for i, line in enumerate(screen.lines) if line.strip().startswith("def answer")), None)

    def colours(row: int) -> set[str]:
        line = screen.lines[row]
        start = line.index("def")
        return {screen.screen.buffer[row][col].fg for col in range(start, start + 3)}

    screen.wait_for(lambda: "return 4" in screen.text)
    assert "That is all" not in screen.text
    assert colours(code_row()) == {"default"}  # provisional: plain text while the block is open
    screen.wait_for(lambda: "tokens in" in screen.text)
    assert colours(code_row()) != {"default"}  # re-drawn by the highlighter once the fence closed
    assert "```" not in screen.text and screen.text.count("return 42") == 1


def test_ctrl_c_mid_stream_keeps_the_partial_answer_and_clears_the_status_line(screen_factory):
    llm, screen = screen_factory([Reply(content=SENTENCE * 3, chars_per_second=40), Reply(content="next")])
    screen.send_line("go")
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    screen.child.sendcontrol("c")
    screen.wait_for(lambda: "interrupted" in screen.text and screen.prompt_row() is not None)
    assert "Streaming shows every" in screen.text  # what was seen stays
    assert not STATUS.search(screen.text) and "›" not in screen.text
    screen.send_line("again")
    screen.wait_for(lambda: len(llm.chat_requests) == 2)
    assert user_texts(llm.chat_requests[1])[-1] == "again"


def test_lines_sent_ahead_return_to_the_prompt_when_the_turn_is_interrupted(screen_factory):
    llm, screen = screen_factory([Reply(content=SENTENCE * 3, chars_per_second=40), Reply(content="answered")])
    screen.send_line("go")
    screen.wait_for(lambda: "Streaming shows every" in screen.text)
    screen.child.send("not yet\r")
    screen.wait_for(lambda: "queued: not yet" in screen.text)
    screen.child.sendcontrol("c")
    row = screen.wait_for(lambda: screen.prompt_row())
    assert screen.lines[row] == "❯ not yet"  # waiting, editable, not sent
    time.sleep(0.3)
    assert len(llm.chat_requests) == 1
    screen.child.send("\r")
    screen.wait_for(lambda: "answered" in screen.text)
    assert user_texts(llm.chat_requests[1])[-1] == "not yet"
