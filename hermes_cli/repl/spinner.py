"""The waiting spinner: a kawaii face and a thinking verb (or, display.spinner minimal, a dot wheel)
and the seconds waited, on one line.

`Spinner` only keeps time and picks the frame; drawing is the renderer's `paint` callback, which
the spinner's daemon thread calls about ten times a second while active, holding the renderer's
output lock, so a frame never lands in the middle of other output. Idle, the thread sleeps on an
event and costs nothing.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

FACES = (
    "(｡◕‿◕｡)", "(◕ᴗ◕✿)", "٩(◕‿◕｡)۶", "(◔_◔)", "ʕ•ᴥ•ʔ", "(ᵔᴥᵔ)", "(•‿•)", "(✿◠‿◠)",
    "(´･ω･`)", "(¬‿¬)", "(⌐■_■)", "ヽ(・∀・)ﾉ", "(◕‿◕)", "(・ω・)", "(≧◡≦)", "(｡♥‿♥｡)",
)
VERBS = (
    "pondering", "contemplating", "musing", "cogitating", "ruminating", "deliberating", "reflecting",
    "mulling it over", "brainstorming", "reasoning", "daydreaming", "noodling", "scheming",
    "conjuring", "percolating", "philosophising", "connecting the dots", "thinking",
)
DOTS = ("⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏")  # display.spinner: minimal
FACE_TICKS = 6  # a new face every 0.6 s at 10 fps
VERB_TICKS = 40  # a new verb every 4 s (when no fixed label is set)


class Spinner:
    def __init__(self, paint: Callable[[Spinner], None], lock: threading.RLock, *, interval: float = 0.1,
                 style: str = "kawaii") -> None:
        self._paint = paint
        self.style = style  # kawaii: faces and thinking verbs; minimal: a dot wheel and "working…"
        self._lock = lock
        self.interval = interval
        self.active = False
        self.label: str | None = None  # None: rotating thinking verbs
        self.started = time.monotonic()
        self._tick = 0
        self._face = random.randrange(len(FACES))
        self._verb = random.randrange(len(VERBS))
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, label: str | None = None, *, restart_clock: bool = True) -> None:
        with self._lock:
            if restart_clock or not self.active:
                self.started = time.monotonic()
                self._verb = random.randrange(len(VERBS))
            self.label = label
            self.active = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hermes-spinner", daemon=True)
                self._thread.start()
            self._wake.set()

    def stop(self) -> None:
        with self._lock:
            self.active = False

    def text(self) -> tuple[str, str, str]:
        """(face, label, elapsed) of the current frame."""
        ticks = self._tick
        if self.style == "minimal":
            return DOTS[ticks % len(DOTS)], self.label or "working…", f"{time.monotonic() - self.started:.1f}s"
        face = FACES[(self._face + ticks // FACE_TICKS) % len(FACES)]
        label = self.label or VERBS[(self._verb + ticks // VERB_TICKS) % len(VERBS)] + "…"
        return face, label, f"{time.monotonic() - self.started:.1f}s"

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                if not self.active:
                    self._wake.clear()
                    continue
                try:
                    self._paint(self)
                except Exception:  # a closed stream at exit must not print a thread traceback
                    self.active = False
                self._tick += 1
            time.sleep(self.interval)
