"""OpenAI chat fine-tuning records: `{"messages", "tools"}` with arguments as JSON strings (formats.md §6.1).

The system message and tools are those in force when the record's turns were written (a session
whose prompt or tools changed gives one record per stretch, see exports/chat_records.py; an
ephemeral prompt is never in the log). Reasoning is dropped: the format has no field for it (use
`--format messages` to keep it). Every assistant message gets a `weight`: 0 for a turn cut off by
the token limit, for a turn that is only context in this record, and, with `train_on="last"`, for
every trained turn but the last. `compaction` says whether the record lies before or after a
context compaction ("none" otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from exports.chat_records import ChatRecord, chat_records
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


def to_records(trajectory: Trajectory, train_on: str = "all") -> list[dict[str, Any]]:
    """One record per conversation in `chat_records` (usually one per session)."""
    return [_record(r, train_on) for r in chat_records(trajectory)]


def _record(chat: ChatRecord, train_on: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if chat.context.system_prompt:
        messages.append({"role": "system", "content": chat.context.system_prompt})
    trained_at: list[int] = []
    for index, message in enumerate(chat.messages):
        out = _message(message)
        if out is None:
            continue
        if out["role"] == "assistant":
            truncated = (chat.calls.get(index) or {}).get("finish_reason") == "length"
            out["weight"] = 1 if index in chat.trained and not truncated else 0
            if out["weight"]:
                trained_at.append(len(messages))
        messages.append(out)
    if train_on == "last":
        for position in trained_at[:-1]:
            messages[position]["weight"] = 0
    record: dict[str, Any] = {"messages": messages}
    if chat.context.tools:
        record["tools"] = chat.context.tool_list
    record["compaction"] = chat.compaction
    return record
