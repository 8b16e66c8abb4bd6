"""One thread that fires every sample's time limit, instead of a `threading.Timer` (a thread
started and torn down) per sample: at 1,000 samples in flight that was a thousand extra threads
and a thread start per sample, the largest single cost of starting a sample."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

COMPACT_FROM = 1024  # pending limits (most of them cancelled) before the heap is swept


class Deadline:
    """A pending call; `cancel()` before it fires and it never will."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._compact_at = COMPACT_FROM

    def arm(self, seconds: float, callback: Callable[[], None]) -> Deadline:
        """Call `callback` (on the watchdog's thread) in `seconds` unless cancelled first."""
        deadline = Deadline(callback)
        with self._wake:
            if len(self._heap) >= self._compact_at:  # finished samples' cancelled limits, dropped in one pass
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._compact_at = max(COMPACT_FROM, 2 * len(self._heap))
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sample-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # sooner than what the thread sleeps until: wake it
                self._wake.notify()
        return deadline

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed:
                    while self._heap and self._heap[0][2].cancelled:  # cancelled ones leave without waiting
                        heapq.heappop(self._heap)
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._closed:
                    return
                _, _, deadline = heapq.heappop(self._heap)
            if not deadline.cancelled:
                try:
                    deadline.callback()
                except Exception:  # one sample's interrupt must not stop the others' limits
                    pass
