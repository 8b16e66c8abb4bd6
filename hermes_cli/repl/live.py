"""The live region: the bottom rows of the terminal while a turn runs.

It holds what is not final yet — the unfinished tail of the answer (shown as it arrives, before
its line or block is complete), the status line (spinner, elapsed time, tokens/s) and the input
line with type-ahead — below everything already printed. Final output goes *above* it: `commit`
erases the region, writes the text and draws the region again, all in one write wrapped in
synchronized-output mode (DEC 2026; terminals without it ignore the codes), so nothing flickers.

Between draws the (hidden) cursor rests at the start of the region's first row, and each line is
drawn with auto-wrap off, so it takes exactly one row. Erasing is then "clear from here down",
whatever the terminal did meanwhile: a terminal that reflows on a resize (tmux, VTE, iTerm2, kitty,
Windows Terminal) moves the cursor with the text, even when the resize lands while a draw is still
on its way (a loaded machine, ssh) — climbing a row count computed from a width would then go
wrong and leave the top of the region on screen. The input line draws its own cursor.

Redraws are cheap (a few short lines) and throttled: `request` draws at once when the last draw
is older than `interval`, else a daemon thread draws when the interval has passed; the same
thread ticks while the turn runs so the elapsed time moves. The region's content comes from a
callback, called under the renderer's lock, so per-token work is only "mark dirty".
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from hermes_cli.repl.markdown_stream import cell_len

SYNC_ON, SYNC_OFF = "\x1b[?2026h", "\x1b[?2026l"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
WRAP_OFF, WRAP_ON = "\x1b[?7l", "\x1b[?7h"  # DECAWM: a line wider than the terminal is cut, not wrapped
CURSOR_CELL = "\x1b[7m \x1b[27m"  # the input line's cursor (reverse video): the terminal's rests above
_SGR = re.compile(r"\x1b\[[0-9;]*m")


class LiveRegion:
    def __init__(self, write: Callable[[str], None], lock: threading.RLock, content: Callable[[], list[str]],
                 width: Callable[[], int], *, interval: float = 0.03, tick: float = 0.1) -> None:
        self._write = write  # raw terminal output, escape codes included
        self._lock = lock
        self._content = content  # the region's lines, each narrower than the terminal
        self._width = width
        self.interval = interval
        self.tick = tick
        self.active = False
        self.suspended = 0
        self._shown: list[str] | None = None  # None: nothing drawn (else the cursor is at its top)
        self._col = 0  # cells of committed text after its last newline (the region starts below it)
        self._dirty = False
        self._last_draw = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- turn -------------------------------------------------------------------------------
    def begin(self) -> None:
        with self._lock:
            self.active, self.suspended, self._shown, self._col = True, 0, None, 0
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hermes-live", daemon=True)
                self._thread.start()
            self._draw(force=True)
            self._wake.set()

    def end(self) -> None:
        """Erase the region; what follows prints where it began."""
        with self._lock:
            if self.active and not self.suspended:
                self._emit(self._erase(), shown=False)
            self.active, self._shown = False, None

    def suspend(self) -> None:
        """Erase and stop drawing (a prompt such as an approval takes the screen)."""
        with self._lock:
            if self.active and not self.suspended:
                self._emit(self._erase(), shown=False)
                self._shown = None
            self.suspended += 1

    def resume(self) -> None:
        with self._lock:
            self.suspended = max(0, self.suspended - 1)
            if self.active and not self.suspended:
                self._draw(force=True)

    # -- output -----------------------------------------------------------------------------
    def commit(self, text: str) -> None:
        """Print final text above the region."""
        with self._lock:
            out = self._erase() + text
            self._shown = None
            last = text.rsplit("\n", 1)[-1]
            if "\n" in text:
                self._col = 0
            self._col = (self._col + cell_len(_SGR.sub("", last))) % max(self._width(), 1)
            if self.suspended:  # a prompt has the screen: the region comes back when it is done
                self._emit(out, shown=False)
                return
            lines = self._content()
            self._emit(out + self._region(lines))
            self._drawn(lines)

    def request(self, *, now: bool = False) -> None:
        """The content changed: draw now, or within `interval` when a draw just happened."""
        with self._lock:
            if not self.active or self.suspended:
                return
            if now or time.monotonic() - self._last_draw >= self.interval:
                self._draw()
            else:
                self._dirty = True
                self._wake.set()

    # -- drawing ----------------------------------------------------------------------------
    def _draw(self, *, force: bool = False) -> None:
        lines = self._content()
        if not force and lines == self._shown:
            self._dirty = False
            return
        self._emit(self._erase() + self._region(lines))
        self._drawn(lines)

    def _region(self, lines: list[str]) -> str:
        """The lines below the committed text, one row each; the cursor back at the first one."""
        up = len(lines) - 1
        return (("\r\n" if self._col else "\r") + WRAP_OFF + "\r\n".join(lines) + WRAP_ON
                + (f"\x1b[{up}A" if up > 0 else "") + "\r")

    def _drawn(self, lines: list[str]) -> None:
        # Noted after the write: a Ctrl-C in between leaves a stale region on screen rather than
        # making the next erase start inside text printed before it.
        self._shown, self._dirty, self._last_draw = lines, False, time.monotonic()

    def _erase(self) -> str:
        """Everything from the region's first row down cleared; the cursor where committed text goes on."""
        if self._shown is None:
            return ""
        out = "\r\x1b[J"
        if self._col:  # the region began on the row below an unfinished line: back to its end
            out += "\x1b[A"
            if col := self._col % max(self._width(), 1):
                out += f"\x1b[{col}C"
        return out

    def _emit(self, text: str, *, shown: bool = True) -> None:
        """One synchronized write; the terminal's cursor stays hidden while the region is shown."""
        if text or not shown:
            self._write(SYNC_ON + HIDE_CURSOR + text + ("" if shown else SHOW_CURSOR) + SYNC_OFF)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.tick if self.active else None)  # idle between turns
            self._wake.clear()
            wait = self._last_draw + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._lock:
                if self.active and not self.suspended:
                    try:
                        self._draw()
                    except Exception:  # a closed terminal at exit must not print a thread traceback
                        self.active = False


# -- the region's lines (pure functions of the renderer's state) ---------------------------------
def _fit(text: str, width: int) -> str:
    from hermes_cli.repl.text import truncate

    return truncate(text, width) if cell_len(text) > width else text


def provisional_lines(kind: str, source: list[str], width: int, limit: int) -> list[str]:
    """The unfinished tail of the answer as plain rows: wrapped text, or code lines cut at the width."""
    from hermes_cli.repl.markdown_stream import wrap

    rows: list[str] = []
    width = max(width, 8)  # the width markdown wraps at, so a completed paragraph keeps its lines
    for line in source:
        if kind == "code":  # one column of padding, as the highlighter draws it
            rows.append(_fit(" " + line.expandtabs(4), width - 1))
            continue
        lines, rest = wrap(line[-limit * width:].expandtabs(4), width)  # the tail is all that shows
        rows += [*lines, rest.rstrip()] if rest.strip() or not lines else lines
    return rows[-limit:]


def status_line(face: str, label: str, elapsed: float, rate: float | None, width: int, color: bool) -> str:
    """`(◕‿◕) writing… · 3.2s · 41 tok/s · Ctrl-C interrupts`, cut to the width."""
    parts = [f"{elapsed:.1f}s"]
    if rate is not None:
        parts.append(f"{rate:.0f} tok/s")
    tail = " · " + " · ".join(parts) + " · Ctrl-C interrupts"
    room = max(width - 1 - cell_len(face) - (1 if face else 0) - cell_len(tail), 4)
    label = _fit(label, room)
    text = _fit(f"{label}{tail}", width - 1 - cell_len(face) - (1 if face else 0))
    if not color:
        return f"{face} {text}" if face else text
    return (f"\x1b[36m{face}\x1b[0m " if face else "") + f"\x1b[2m{text}\x1b[0m"


def input_lines(queued: list[str], text: str, width: int, color: bool, eof: bool = False) -> list[str]:
    """Lines sent ahead (dim) and the input line being typed, its end visible; after Ctrl-D, a hint."""
    rows = []
    if len(queued) > 3:  # the region must stay well inside the screen
        rows.append(f"  ↳ {len(queued) - 2} lines queued")
        queued = queued[-2:]
    for line in queued:
        shown = _fit("  ↳ queued: " + line.replace("\n", " ⏎ "), width - 1)
        rows.append(f"\x1b[2m{shown}\x1b[0m" if color else shown)
    typed = text.replace("\n", " ⏎ ")
    room = max(width - 4, 4)  # the prompt, the cursor cell and the last column stay free
    while cell_len(typed) > room:  # keep the end, where the cursor is
        typed = typed[max(1, len(typed) - room):] if typed.isascii() else typed[1:]
    # Not the prompt's ❯: the input line is held, and ❯ coming back means it is the user's turn again.
    prompt = "\x1b[36m›\x1b[0m " if color else "› "
    if eof:
        hint = _fit("Ctrl-D: hermes exits when this turn ends (type or Backspace to stay)", width - 3)
        return [*rows, prompt + (f"\x1b[2m{hint}\x1b[0m" if color else hint)]
    return [*rows, prompt + typed + CURSOR_CELL]
