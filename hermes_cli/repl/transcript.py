"""A conversation as readable markdown, for /save and /history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recording.reader import is_prompt
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


def _split_content(content: str) -> tuple[str, str, list[str]]:
    """(reasoning, answer, text tool calls): `<think>` and `<tool_call>` blocks written inside the
    content (local models do this) are pulled out so the answer reads cleanly."""
    from hermes_cli.repl.markdown_stream import TagSplitter

    splitter = TagSplitter()
    parts = splitter.feed(content) + splitter.flush()
    reasoning = "".join(text for kind, text in parts if kind == "reasoning").strip()
    answer = "".join(text for kind, text in parts if kind == "text").strip()
    calls = [" ".join(text.split()) for kind, text in parts if kind == "hidden" and text.strip()]
    return reasoning, answer, calls


def _quote(text: str) -> list[str]:
    return ["> " + line for line in text.splitlines()] + [""]


def to_markdown(messages: list[dict[str, Any]], *, session_id: str = "", model: str = "",
                clip: bool = True) -> str:
    lines = _header(session_id, model)
    for message in messages:
        lines += _lines(message, _clip if clip else (lambda text, limit=0: text))
    return "\n".join(lines).rstrip() + "\n"


def history_blocks(messages: list[dict[str, Any]], *, session_id: str = "", model: str = "") -> list[tuple[str, str]]:
    """/history: ("you", text typed, verbatim) and ("md", markdown of everything else), in order.
    What the user typed is not markdown: rendering it as such would join its lines."""
    blocks: list[tuple[str, str]] = []
    pending = _header(session_id, model)
    for message in messages:
        if message.get("role") == "user" and is_prompt(message):
            if "".join(pending).strip():
                blocks.append(("md", "\n".join(pending).rstrip()))
            blocks.append(("you", text_of(message.get("content"))))
            pending = []
        else:
            pending += _lines(message, _clip)
    if "".join(pending).strip():
        blocks.append(("md", "\n".join(pending).rstrip()))
    return blocks


def _header(session_id: str, model: str) -> list[str]:
    return [f"# hermes session {session_id}".rstrip(), f"_model {model} · saved {datetime.now():%Y-%m-%d %H:%M}_", ""]


def _lines(message: dict[str, Any], cut: Callable[..., str]) -> list[str]:
    role = message.get("role")
    content = text_of(message.get("content"))
    lines: list[str] = []
    if role == "user" and not is_prompt(message):  # text tool results or a compression summary
        lines += ["```text", cut(content), "```", ""]
    elif role == "user":
        lines += ["## You", "", content, ""]
    elif role == "assistant":
        lines += ["## Hermes", ""]
        inline_reasoning, content, text_calls = _split_content(content)
        for reasoning in (message.get("reasoning"), inline_reasoning):
            if reasoning:
                lines += _quote(cut(reasoning))
        if content:
            lines += [content, ""]
        lines += [line for call in text_calls for line in (f"**→ tool call** `{call}`", "")]
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {})
            lines += [f"**→ {fn.get('name')}** `{fn.get('arguments', '')}`", ""]
    elif role == "tool":
        lines += ["```text", cut(_tool_output(content)), "```", ""]
    return lines
