"""One process per session: an exclusive `flock` on the session's event log.

Two processes appending to one log interleave sequence numbers and rewrite the `.json` from
different histories. The recorder takes the lock when it opens a log (new or resumed) and a resume
takes it before reading, so a second `--resume`/`--continue` of a session in use is refused with
one line. The kernel drops the lock when the process dies (even by SIGKILL): nothing to clean up.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from agent.errors import ConfigError

_held: dict[Path, int] = {}  # this process's locks: resolved log path -> the fd holding it
_guard = threading.Lock()


class SessionInUse(ConfigError):
    """Another process has the session open (exit 2)."""


def lock_session(log: Path, session_id: str) -> None:
    """Lock `log` for this process (a no-op when it already holds it); SessionInUse when another does."""
    key = log.resolve()
    with _guard:
        if key in _held:
            return
        fd = os.open(key, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SessionInUse(f"session {session_id} is in use by another hermes process; "
                               "wait for it to end, or start a new session") from None
        _held[key] = fd


def release_session(log: Path) -> None:
    """Drop this process's lock on `log`, if it holds one."""
    with _guard:
        fd = _held.pop(log.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor of the lock releases it
