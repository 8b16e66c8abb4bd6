"""/model NAME for a name the endpoint does not list: allowed (lists can be partial, aliases exist)
but said, so a typo does not surface only as an error on the next message."""

from __future__ import annotations

import difflib


def unlisted_warning(name: str, known: list[str]) -> str | None:
    """A one-line warning when `known` (the endpoint's list) is non-empty and lacks `name`."""
    if not known or name in known:
        return None
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    listed = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
    return f"the endpoint does not list {name} (it lists {listed}); using it anyway.{hint}"
