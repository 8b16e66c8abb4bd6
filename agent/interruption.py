"""What a turn cut short by Ctrl-C leaves in the history, so it stays valid and true.

Tool calls that had not finished get an "interrupted" result each (endpoints require one result
per call). The answer being streamed is kept as an assistant message ending in `MARK`: the model
learns what the user saw before stopping it, and the next request does not carry two user
messages in a row. An interrupt before any text arrived keeps just the mark for the same reason.
The session log records that message with `"interrupted": true` beside it.
"""

from __future__ import annotations

import json
from typing import Any

MARK = "[interrupted by the user]"
TOOL_RESULT = json.dumps({"error": "interrupted by the user before this call finished", "interrupted": True})


def interrupted_results(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One "interrupted" tool result per call of an assistant message."""
    return [{"role": "tool", "tool_call_id": c.get("id", ""), "content": TOOL_RESULT} for c in calls]


def interrupted_answer(partial: list[str], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The assistant message that closes an interrupted turn, or None when none is needed (the
    history ends in tool results and nothing was streamed since)."""
    text = "".join(partial).rstrip()
    if text:
        return {"role": "assistant", "content": f"{text}\n\n{MARK}"}
    if messages and messages[-1].get("role") == "user":
        return {"role": "assistant", "content": MARK}
    return None


def is_interrupted_answer(message: dict[str, Any]) -> bool:
    """True for the message `interrupted_answer` makes (for displays and recaps)."""
    content = message.get("content")
    return message.get("role") == "assistant" and isinstance(content, str) and content.endswith(MARK)
