"""Bounded capture of command output: decode as it arrives, keep the head and the tail, count the rest.

Every backend feeds raw bytes in whatever chunks it gets; memory stays bounded however much a command
prints, and the text handed back is valid UTF-8 without NUL bytes.
"""

from __future__ import annotations

import codecs
import select
import time
from collections import deque

DEFAULT_MAX_OUTPUT_CHARS = 30_000
HEAD_SHARE = 0.4  # errors and summaries tend to be at the end, so the tail gets more room


def configured_max_output_chars() -> int:
    """terminal.max_output_chars of the configured terminal settings (TERMINAL_MAX_OUTPUT_CHARS)."""
    from tools.environments.manager import current_settings

    return max(current_settings().max_output_chars, 200)


TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` uses
INTERRUPT_EXIT_CODE = 130


def note_outcome(collector: OutputCollector, outcome: str, exit_code: int, timeout: float) -> int:
    """Tell the model how a command ended when it did not simply exit; returns the exit code to report."""
    if outcome in ("timeout", "stuck"):
        collector.feed(f"\n[command timed out after {timeout:g} s; its process group was killed]".encode())
        return TIMEOUT_EXIT_CODE
    if outcome == "interrupted":
        collector.feed(b"\n[command interrupted; its process group was killed]")
        return INTERRUPT_EXIT_CODE
    if outcome == "lingering":
        collector.feed(
            b"\n[note: background processes started by this command are still running; output they print"
            b" from now on is not captured. Use background=true or redirect it to a file.]"
        )
    return exit_code


def truncation_note(dropped: int) -> str:
    return f"\n\n[... {dropped} characters truncated ...]\n\n"


class OutputCollector:
    """Feed bytes with `feed()`, get the (possibly truncated) text from `text()`.

    Keeps the first `head` characters and the last `tail` characters; everything in between is
    decoded only to be counted, so `dropped` is exact in characters.
    """

    def __init__(self, max_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> None:
        self.max_chars = max_chars
        self._head_cap = int(max_chars * HEAD_SHARE)
        self._tail_cap = max_chars - self._head_cap
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.total = 0  # characters seen (after NUL stripping)

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decoder.decode(data, final)
        if "\x00" in text:
            text = text.replace("\x00", "")
        if not text:
            return
        self.total += len(text)
        if self._head_len < self._head_cap:
            take = text[: self._head_cap - self._head_len]
            self._head.append(take)
            self._head_len += len(take)
            text = text[len(take):]
            if not text:
                return
        self._tail.append(text)
        self._tail_len += len(text)
        # Trim whole chunks from the left while the rest still covers the tail; the partial chunk
        # at the edge is cut in text().
        while self._tail and self._tail_len - len(self._tail[0]) >= self._tail_cap:
            self._tail_len -= len(self._tail.popleft())

    def finish(self) -> None:
        self.feed(b"", final=True)

    @property
    def dropped(self) -> int:
        """Characters that did not fit (0 when everything fits in max_chars)."""
        return max(self.total - self.max_chars, 0)

    def text(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)
        dropped = self.dropped
        if not dropped:
            return head + tail
        return head + truncation_note(dropped) + tail[len(tail) - self._tail_cap:]


def clip_text(text: str, max_chars: int) -> tuple[str, int]:
    """Head+tail truncation of a string already in memory; returns (text, characters dropped)."""
    collector = OutputCollector(max_chars)
    collector.feed(text.encode("utf-8", errors="replace"), final=True)
    return collector.text(), collector.dropped


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    """The fds among `fds` with data (or EOF) within `timeout` seconds; sleeps when there are none."""
    if not fds:
        time.sleep(max(timeout, 0))
        return []
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return [fd for fd, _ in poller.poll(max(timeout, 0) * 1000)]
