"""Keeps `session_<id>.json` current without making the agent wait for it.

Each update replaces the file atomically (temp file + rename), so readers and a kill -9 only ever
see a complete document. The rewrite grows with the session, so it runs on a background thread
that coalesces bursts: the agent hands over a snapshot (O(1) per message) and moves on.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from recording.private import open_private


def _warn(message: str) -> None:
    sys.stderr.write(f"hermes: warning: {message}\n")


class SessionFileWriter:
    def __init__(self, path: Path, on_error: Callable[[str], None] = _warn) -> None:
        self.path = path
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: tuple[str, list[str]] | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._warned = False

    def submit(self, head: str, turns: list[str]) -> None:
        """Queue `head` (a JSON object without its closing brace) and the encoded turns."""
        with self._cond:
            self._pending = (head, turns)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="session-file", daemon=True)
                self._thread.start()
            self._cond.notify()

    def write_now(self, head: str, turns: list[str]) -> None:
        """Write in the calling thread: for a file written once, at the end (batch samples), where
        starting a thread to write it cost more than the write."""
        self.flush()  # a queued snapshot must not land after this one
        self._write_reporting(head, turns)

    def flush(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                job, self._pending = self._pending, None
                self._busy = True
            try:
                self._write_reporting(*job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_reporting(self, head: str, turns: list[str]) -> None:
        try:
            self._write(head, turns)
        except (OSError, ValueError) as exc:  # a full disk must not kill the session
            if not self._warned:
                self._warned = True
                self._on_error(f"cannot update {self.path}: {getattr(exc, 'strerror', None) or exc}")

    def _write(self, head: str, turns: list[str]) -> None:
        text = head + ', "conversations": [\n' + ",\n".join(turns) + "\n]}\n"
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            # "replace": a stray lone surrogate must not cost the whole file (see agent/unicode_text.py)
            with os.fdopen(open_private(tmp), "wb") as fh:  # 0600, as the event log
                fh.write(text.encode("utf-8", "replace"))
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half-written temp file must not stay behind
            raise
