"""Type-ahead: what the user types while the model works.

During a turn the terminal is in cbreak mode without echo (ISIG stays on, so Ctrl-C is still
SIGINT, i.e. KeyboardInterrupt in the main thread): typed keys no longer land in the middle of
the streaming answer. A reader thread holds them instead, and the live region shows them in its
input line. Backspace, Ctrl-U and Ctrl-W edit; Alt-Enter adds a newline; Enter queues the line,
which is sent once the turn ends. Text not yet sent becomes the next prompt's editable default.
Ctrl-D on an empty input line is end-of-input, as at the prompt: hermes exits once the turn ends
(after the lines queued before it); typing or Backspace takes it back, Ctrl-C drops it.

The reader only reads while holding the renderer's lock and not suspended, so a prompt that takes
the terminal in the middle of a turn (an approval: it suspends us through `Renderer.paused`) gets
every key typed after it appeared.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# A CSI/SS3 sequence (arrows, function keys): ignored. ESC + Enter is Alt-Enter.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O[ -~]|\r|\n|[ -~])")
_ESCAPE_START = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|O)?")


class KeyBuffer:
    """The held input: pure key handling (no terminal), `feed` returns True when something changed."""

    def __init__(self) -> None:
        self.text = ""
        self.queued: list[str] = []
        self.eof = False  # Ctrl-D on an empty line: exit when the turn ends
        self._pending = ""  # an escape sequence split across reads

    def feed(self, keys: str) -> bool:
        keys, self._pending = self._pending + keys, ""
        before = (self.text, len(self.queued), self.eof)
        i = 0
        while i < len(keys):
            ch = keys[i]
            if ch == "\x1b":
                if _ESCAPE_START.fullmatch(keys, i):  # cut off at the end of this read: wait for the rest
                    self._pending = keys[i:]
                    break
                match = _ESCAPE.match(keys, i)
                if match is None:
                    i += 1
                    continue
                if match.group() in ("\x1b\r", "\x1b\n"):
                    self.text += "\n"
                i = match.end()
                continue
            if ch == "\x04":  # Ctrl-D: end of input on an empty line (like the prompt), else nothing
                self.eof = self.eof or not self.text
            elif self.eof and (ch in "\x7f\x08\x15\r\n" or ch >= " "):
                self.eof = False  # an editing key takes it back; a printable one is typed as usual
                if ch >= " ":
                    self.text += ch
            elif ch in "\r\n":
                if self.text.strip():
                    self.queued.append(self.text)
                self.text = ""
            elif ch in "\x7f\x08":
                self.text = self.text[:-1]
            elif ch == "\x15":  # Ctrl-U
                self.text = ""
            elif ch == "\x17":  # Ctrl-W: the last word
                self.text = re.sub(r"\S*\s*$", "", self.text, count=1)
            elif ch >= " " or ch == "\t":
                self.text += ch
            i += 1
        return (self.text, len(self.queued), self.eof) != before


class TypeAhead:
    def __init__(self, fd: int, lock: threading.RLock, changed: Callable[[], None], *, poll: float = 0.02) -> None:
        self.fd = fd
        self.keys = KeyBuffer()
        self._lock = lock
        self._changed = changed  # called under the lock when the held input changed
        self._poll = poll
        self._active = False
        self._suspended = 0
        self._saved: list | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the REPL asks -----------------------------------------------------------------
    def pop_queued(self) -> str | None:
        """The next line sent with Enter during a turn, if any."""
        with self._lock:
            return self.keys.queued.pop(0) if self.keys.queued else None

    def take_text(self) -> str:
        """The unsent input (the next prompt starts with it)."""
        with self._lock:
            text, self.keys.text = self.keys.text, ""
            return text

    def unsend(self) -> None:
        """Lines queued with Enter go back into the input line (after Ctrl-C nothing goes out by itself)."""
        with self._lock:
            keys = self.keys
            keys.text, keys.queued = "\n".join(line for line in (*keys.queued, keys.text) if line), []
            keys.eof = False

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold typed keys for the duration of a turn."""
        self.start()
        try:
            yield
        finally:
            self.stop()

    # -- terminal ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._active, self._suspended = True, 0
            self._cbreak()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hermes-typeahead", daemon=True)
                self._thread.start()
            self._wake.set()

    def stop(self) -> None:
        with self._lock:
            if self._active and not self._suspended:
                self._read_available()  # keys typed just before the end belong to the held input
            self._active = False
            self._restore()

    def suspend(self) -> None:
        with self._lock:
            if self._active and not self._suspended:
                self._restore()
            self._suspended += 1

    def resume(self) -> None:
        with self._lock:
            self._suspended = max(0, self._suspended - 1)
            if self._active and not self._suspended:
                self._cbreak()
                self._wake.set()

    def _cbreak(self) -> None:
        import termios

        try:
            attrs = termios.tcgetattr(self.fd)
        except (termios.error, OSError):
            return
        self._saved = [*attrs[:6], list(attrs[6])]
        attrs[3] &= ~(termios.ICANON | termios.ECHO)  # ISIG stays: Ctrl-C is still SIGINT
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)  # TCSANOW: TCSAFLUSH would drop typed keys

    def _restore(self) -> None:
        import termios

        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None

    def _read_available(self) -> None:
        data = b""
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0)
                if not ready:
                    break
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        if data and self.keys.feed(self._decoder.decode(data)):
            self._changed()

    def _run(self) -> None:
        while True:
            if not self._active:
                self._wake.wait()
                self._wake.clear()
                continue
            try:
                ready, _, _ = select.select([self.fd], [], [], self._poll)
            except (OSError, ValueError):
                ready = []
            if ready:
                with self._lock:  # re-checked under the lock: a prompt may have taken the terminal
                    if self._active and not self._suspended:
                        self._read_available()
                if not self._active or self._suspended:
                    self._wake.wait(self._poll)
                    self._wake.clear()
            elif self._suspended:
                self._wake.wait(self._poll)
                self._wake.clear()


def attach(renderer: Any, *, live: bool = True) -> TypeAhead | None:
    """Type-ahead for a REPL on a real terminal (None when stdin or stdout is not one), and the live
    region unless `live` is off (display.live: false): then keys typed during a turn are still held
    out of the answer, unseen until the next prompt shows them."""
    import sys

    try:
        import termios  # noqa: F401  (POSIX terminals only)

        if not (sys.stdin.isatty() and sys.stdout.isatty()) or os.environ.get("TERM") == "dumb":
            return None  # a dumb terminal cannot move the cursor back over the region
        fd = sys.stdin.fileno()
    except (ImportError, AttributeError, ValueError, OSError):
        return None
    if live:
        renderer.enable_live()
    typeahead = TypeAhead(fd, renderer._lock, lambda: renderer._live and renderer._live.request())
    renderer.typeahead = typeahead
    return typeahead


def next_input(typeahead: TypeAhead | None, session: Any, renderer: Any) -> str:
    """A line sent ahead during the last turn, else the prompt (starting with what was typed ahead)."""
    if typeahead is None:
        return session.prompt()
    line = typeahead.pop_queued()
    if line is not None:
        renderer.info("❯ " + line)  # as the prompt would have shown it
        session.history.append_string(line)
        return line
    if typeahead.keys.eof:  # Ctrl-D during the turn: the end of input, as if pressed at the prompt
        typeahead.keys.eof = False
        raise EOFError
    return session.prompt(default=typeahead.take_text())
