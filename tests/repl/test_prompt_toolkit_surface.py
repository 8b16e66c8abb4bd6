"""prompt_toolkit attributes hermes uses beyond its documented API, on real prompt_toolkit input.

hermes_cli/repl/approval.py ends an unanswered prompt from a timer thread through the running
`Application`'s `is_running`, `loop` and `future`. pyproject.toml bounds prompt_toolkit below its
next major; these tests make a release within it that changes them fail here first.
"""

from __future__ import annotations

import threading
import time

from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from hermes_cli.repl.approval import ask_with_prompt_toolkit


def test_an_unanswered_prompt_gives_up_after_its_timeout() -> None:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        started = time.monotonic()
        answer = ask_with_prompt_toolkit("allow? ", timeout=0.3)
    assert answer == ""
    assert 0.3 <= time.monotonic() - started < 10  # ended by the timer, not by input


def test_an_answer_before_the_timeout_is_returned() -> None:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        threading.Timer(0.1, lambda: pipe.send_text("hunter2\r")).start()
        answer = ask_with_prompt_toolkit("password: ", timeout=20, password=True)
    assert answer == "hunter2"
