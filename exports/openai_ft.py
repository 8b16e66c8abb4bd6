"""OpenAI chat fine-tuning records: `{"messages", "tools"}` with arguments as JSON strings (formats.md §6.1).

The system message is the recorded one (an ephemeral prompt is never in the log). Reasoning is
dropped (the format has no field for it). Every assistant message gets a `weight`: 0 for a turn
cut off by the token limit, and, with `train_on="last"`, for every assistant turn but the last.
"""

from __future__ import annotations

import json
from typing import Any

from exports.source import Trajectory

_KEEP = {
    "system": ("role", "content", "name"),
    "user": ("role", "content", "name"),
    "assistant": ("role", "content", "tool_calls", "name"),
    "tool": ("role", "tool_call_id", "content"),
}


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if not isinstance(args, str):
        args = json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {"id": call.get("id", ""), "type": "function", "function": {"name": fn.get("name", ""), "arguments": args}}


def _message(message: dict[str, Any]) -> dict[str, Any] | None:
    keys = _KEEP.get(message.get("role", ""))
    if keys is None:
        return None
    out = {k: message[k] for k in keys if k in message}
    if out.get("tool_calls"):
        out["tool_calls"] = [_tool_call(c) for c in out["tool_calls"]]
        if not out.get("content"):
            out.pop("content", None)  # a pure tool-call turn carries no content (as OpenAI's examples)
    elif "tool_calls" in out:
        del out["tool_calls"]
    if out.get("content") is None and out["role"] != "assistant":
        out["content"] = ""
    return out


def to_record(trajectory: Trajectory, train_on: str = "all") -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if trajectory.system_prompt:
        messages.append({"role": "system", "content": trajectory.system_prompt})
    calls = trajectory.call_for_message
    assistant_at: list[int] = []
    for index, message in enumerate(trajectory.messages):
        out = _message(message)
        if out is None:
            continue
        if out["role"] == "assistant":
            truncated = (calls.get(index) or {}).get("finish_reason") == "length"
            out["weight"] = 0 if truncated else 1
            assistant_at.append(len(messages))
        messages.append(out)
    if train_on == "last":
        for position in assistant_at[:-1]:
            messages[position]["weight"] = 0
    record: dict[str, Any] = {"messages": messages}
    if trajectory.tools:
        record["tools"] = trajectory.tools
    return record
