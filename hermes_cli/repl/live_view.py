"""The live region's side of the renderer (a mixin of `Renderer`): what the region shows while a
turn runs — the answer's unfinished tail, reasoning in progress, the status line and the input
line — and the per-token bookkeeping behind tokens/s. Drawing itself is `live.LiveRegion`.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import Any


def _raw_stdout(text: str) -> None:
    """The live region's output: cursor movement included, so not through print_formatted_text."""
    sys.stdout.write(text)
    sys.stdout.flush()


class LiveView:
    _live: Any
    typeahead: Any

    def enable_live(self, write: Callable[[str], None] | None = None) -> None:
        """While a turn runs, show the answer's unfinished tail, a status line and the input line."""
        from hermes_cli.repl.live import LiveRegion

        self._live = LiveRegion(write or _raw_stdout, self._lock, self._live_lines, self._width)
        self._stream.max_wait = float("inf")  # the unfinished tail shows anyway: wait for whole blocks
        self._stream.max_code_lines = max(self._rows() - 12, 8)  # longer blocks go out line by line

    def warm_up(self) -> None:
        """Import what rendering a block needs (called from the REPL's background warm-up, after the
        prompt is up): else the first completed block of the first answer waits ~0.3 s for it."""
        import rich.markdown  # noqa: F401
        import rich.syntax  # noqa: F401

    def close_live(self) -> None:
        """A turn cut short (SIGTERM, SIGHUP): no region left on screen, the terminal's cursor shown."""
        with self._lock:
            if self._live is not None:
                self._live.end()

    def _streamed(self, text: str) -> None:
        now = time.monotonic()
        first_delta = self._rate is None
        first, _last, chars = self._rate or (now, now, 0)
        self._rate = (first, now, chars + len(text))
        if self._live is not None and self._live.active:
            self._live.request(now=first_delta)  # the first token shows at once, not after the throttle

    def _live_lines(self) -> list[str]:
        from hermes_cli.repl.live import input_lines, provisional_lines, status_line

        width, limit = self._width(), max(self._rows() - 10, 3)  # room for status, input, queued lines
        rows = []
        if self.show_reasoning and self._r_buffer.strip():
            lead = "   " if self._r_started else "💭 "  # as the reasoning line will be printed
            dim, off = ("\x1b[2m", "\x1b[0m") if self.color else ("", "")
            rows += [f"{dim}{lead}{row}{off}" for row in provisional_lines("text", [self._r_buffer], width - 4, 1)]
        kind, source = self._stream.provisional(limit)
        tail = provisional_lines(kind, source, width, limit)
        stream = self._stream
        continues = (stream.plain and not stream._first_plain or stream.code_streaming
                     or self._last[1] == "list" and stream.kind == "list")
        if tail and self._last[0] is not None and not continues:
            rows.append("")  # where the blank line before the block will be
        rows += tail
        face, verb, _ = self._spinner.text()
        if not self.spinner_enabled:
            face, verb = "", "thinking…"
        rate = None
        if self._rate and not self._tools and self._rate[1] - self._rate[0] >= 0.3:
            rate = self._rate[2] / 4 / (self._rate[1] - self._rate[0])  # ≈ 4 characters a token
        label = self._tool_label() if self._tools else "writing…" if self._rate else verb
        elapsed = time.monotonic() - (self._turn_started or time.monotonic())
        rows.append(status_line(face, label, elapsed, rate, width, self.color))
        if self.typeahead is not None:
            keys = self.typeahead.keys
            rows += input_lines(keys.queued, keys.text, width, self.color, keys.eof)
        return rows

    def _rows(self) -> int:
        return shutil.get_terminal_size((80, 24)).lines
