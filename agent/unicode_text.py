"""Text that can always be written as UTF-8.

Python strings can hold what UTF-8 cannot: lone UTF-16 surrogates. They arrive two ways:
- a server that JSON-escapes an emoji as `\\ud83d\\ude00` and splits the pair across two stream
  chunks (each chunk decodes to half a character);
- bytes that are not UTF-8 (a `-p $'\\xff'` argument, piped stdin), which Python decodes with
  `surrogateescape` into U+DC80..U+DCFF.
Either one makes the next `.encode("utf-8")` (stdout, the session files) raise.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def clean(text: str) -> str:
    """Join surrogate pairs into their character; undecodable bytes and lone halves become U+FFFD."""
    if not has_surrogates(text):
        return text
    if _only_escapes(text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _only_escapes(text: str) -> bool:
    """True when every surrogate is a surrogateescape'd byte (U+DC80..U+DCFF), none a UTF-16 half."""
    return all("\udc80" <= ch <= "\udcff" for ch in _SURROGATE.findall(text))


def from_os(text: str) -> str:
    """A command-line argument or environment value: undecodable bytes become U+FFFD."""
    return clean(text)


def from_bytes(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class SurrogateJoiner:
    """Streamed deltas: hold back a trailing high surrogate until its partner arrives."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        if self._held:
            text, self._held = self._held + text, ""
        if not has_surrogates(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":
            text, self._held = text[:-1], text[-1]
        return clean(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return clean(held)
