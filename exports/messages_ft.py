"""HF/TRL/verl SFT records: `{"messages", "tools", "compaction"}` (formats.md §6.2).

What a chat template must be handed to reproduce the text the model saw (as vLLM hands it the
request): tool-call `arguments` as objects (templates apply `tojson`; a JSON string would come
out double-encoded), `content` "" rather than null, tool messages with the tool's `name` (Hermes
tool templates require it) and `tool_call_id`, reasoning as `reasoning_content` (what Qwen3-style
templates read). Text-mode tool calls stay text, as the model wrote and saw them. Records are cut
per request context and compaction as in the openai format (exports/chat_records.py); TRL has no
per-message weight, so turns a record holds only as context are trained too: filter on
`compaction` (drop "before" if you keep "after") when that matters. A turn cut by the token limit
(`finish_reason: length`) ends its record: the template would close it with an end-of-turn token
the model never sampled. A prompt with images keeps its OpenAI content parts (text, then
`image_url` parts whose `url` is the picture's data URL, rebuilt from the files beside the log).
"""

from __future__ import annotations

import json
from typing import Any

from agent.images import image_parts
from exports.chat_records import ChatRecord, chat_records
from exports.source import Trajectory
from recording.sharegpt import text_of


def arguments(raw: Any) -> Any:
    """The call's arguments as the object the server's template renders (a string that is not
    JSON stays a string: that is what the model wrote)."""
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    try:
        return json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw


def to_messages(messages: list[dict[str, Any]], system_prompt: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": text_of(message.get("content"))}
            if message.get("reasoning"):
                item["reasoning_content"] = message["reasoning"]
            calls = []
            for call in message.get("tool_calls") or []:
                fn = call.get("function") or {}
                names[call.get("id", "")] = fn.get("name", "")
                calls.append({"id": call.get("id", ""), "type": "function",
                              "function": {"name": fn.get("name", ""), "arguments": arguments(fn.get("arguments"))}})
            if calls:
                item["tool_calls"] = calls
            out.append(item)
        elif role == "tool":
            call_id = message.get("tool_call_id", "")
            out.append({"role": "tool", "name": names.get(call_id, "unknown"), "tool_call_id": call_id,
                        "content": text_of(message.get("content"))})
        elif role == "user" and image_parts(message.get("content")):  # text + images as OpenAI parts
            out.append({"role": "user", "content": list(message["content"])})
        elif role in ("user", "system"):
            out.append({"role": role, "content": text_of(message.get("content"))})
    return out


def _record(chat: ChatRecord) -> dict[str, Any] | None:
    messages = chat.messages
    # A turn cut by the token limit: TRL has no weight and its template would close the turn,
    # training a stop the model never made. The record ends before it (or is dropped).
    cut = next((i for i in sorted(chat.trained) if (chat.calls.get(i) or {}).get("finish_reason") == "length"), None)
    if cut is not None:
        messages = messages[:cut]
        if not any(i < cut for i in chat.trained):
            return None
    return {"messages": to_messages(messages, chat.context.system_prompt),
            "tools": chat.context.tool_list, "compaction": chat.compaction}


def to_records(trajectory: Trajectory) -> list[dict[str, Any]]:
    return [r for r in map(_record, chat_records(trajectory)) if r is not None]
