"""History edits behind /undo and /retry: find and cut the last exchange.

An exchange is a prompt the user typed and everything after it (assistant turns, tool calls and
their results), so cutting at a prompt never leaves a tool call without its result. The agent
records each edit as a `history_edit` event, which `recording.reader.load_session` replays.
"""

from __future__ import annotations

from typing import Any

from recording.reader import is_prompt
from recording.reader import prompt_text as reader_prompt_text
from recording.sharegpt import text_of


def last_exchange_start(messages: list[dict[str, Any]]) -> int | None:
    """Index of the last prompt the user typed (text tool results and summaries are not prompts)."""
    for index in range(len(messages) - 1, -1, -1):
        if is_prompt(messages[index]):
            return index
    return None


def drop_last_exchange(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Remove the last exchange from `messages` in place; return the removed messages ([] if none)."""
    start = last_exchange_start(messages)
    if start is None:
        return []
    removed = messages[start:]
    del messages[start:]
    return removed


def prompt_text(message: dict[str, Any]) -> str:
    """What the user typed (a prompt with images: its text parts; the pictures are in image_parts)."""
    content = message.get("content")
    return reader_prompt_text(content) if isinstance(content, list) else text_of(content)
