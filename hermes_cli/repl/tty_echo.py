"""Ctrl-C during a turn: the terminal driver would echo `^C` wherever the cursor is (glued to the
partial answer). While a turn runs that echo is switched off; the renderer writes `^C` on a line
of its own once the partial answer is flushed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_control_echo() -> Iterator[None]:
    """Clear ECHOCTL on the controlling terminal for the block (no-op when stdin is not a tty)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):  # not a terminal (or none at all)
        yield
        return
    quiet = list(saved)
    quiet[3] = saved[3] & ~termios.ECHOCTL
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except termios.error:
        yield
        return
    try:
        yield
    finally:
        try:
            termios.tcsetattr(fd, termios.TCSANOW, saved)
        except termios.error:  # the terminal is gone (SIGHUP)
            pass
