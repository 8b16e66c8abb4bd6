"""CLI vocabulary in messages shared with `hermes -p`, said the REPL's way.

Errors raised deep in the agent ("pass --model or set LLM_MODEL", "see --list-toolsets") are
written for the command line. In the REPL the fix is a slash command, so everything the REPL
prints passes through `for_repl` (the renderer's redaction hook), which swaps the advice.
"""

from __future__ import annotations

from collections.abc import Callable

# (CLI wording, REPL wording): the longer spellings first, so "see hermes --list-toolsets" wins.
_SWAPS = (
    ("pass --model or set LLM_MODEL", "choose one with /model NAME (/model lists what the server offers)"),
    ("see hermes --list-toolsets", "see /toolsets"),
    ("see --list-toolsets", "see /toolsets"),
    ("see hermes --list-tools", "see /tools"),
    ("see --list-tools", "see /tools"),
)


def for_repl(text: str) -> str:
    """`text` with command-line advice replaced by the slash command that does the same."""
    if "--" not in text:  # the common case: nothing to swap
        return text
    for cli, repl in _SWAPS:
        text = text.replace(cli, repl)
    return text


def repl_filter(redact: Callable[[str], str]) -> Callable[[str], str]:
    """The renderer's output filter: redact secrets, then reword CLI advice."""
    return lambda text: for_repl(redact(text))
