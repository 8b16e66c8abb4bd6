"""A conversation as readable markdown, for /save and /history."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from recording.sharegpt import text_of

_CLIP = 2000


def _clip(text: str, limit: int = _CLIP) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def _tool_output(content: str) -> str:
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return content
    if isinstance(data, dict):
        if data.get("error"):
            return f"error: {data['error']}"
        for key in ("output", "content", "result"):
            if isinstance(data.get(key), str):
                return data[key]
    return json.dumps(data, ensure_ascii=False, indent=2)


def to_markdown(messages: list[dict[str, Any]], *, session_id: str = "", model: str = "",
                clip: bool = True) -> str:
    cut = _clip if clip else (lambda text, limit=0: text)
    lines = [f"# hermes session {session_id}".rstrip(),
             f"_model {model} · saved {datetime.now():%Y-%m-%d %H:%M}_", ""]
    for message in messages:
        role = message.get("role")
        content = text_of(message.get("content"))
        if role == "user":
            lines += ["## You", "", content, ""]
        elif role == "assistant":
            lines += ["## Hermes", ""]
            if message.get("reasoning"):
                lines += ["> " + line for line in cut(message["reasoning"]).splitlines()] + [""]
            if content:
                lines += [content, ""]
            for call in message.get("tool_calls") or []:
                fn = call.get("function", {})
                lines += [f"**→ {fn.get('name')}** `{fn.get('arguments', '')}`", ""]
        elif role == "tool":
            lines += ["```text", cut(_tool_output(content)), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
