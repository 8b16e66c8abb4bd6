"""Text-mode tool calls as recorded: calls written in assistant content (`<tool_call>` blocks or the
other open-model formats, see agent/tool_calls.py), their results as one user message of
`<tool_response>` blocks. Read back into structured calls and results, matched by position, with
the ids the agent used (`text_call_<i>`). The recorded content itself is never rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agent.tool_calls import has_text_tool_calls, marker_offset, parse_text_tool_calls
from recording.sharegpt import text_of

_RESPONSE = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.S)


@dataclass
class TextCall:
    call_id: str
    name: str
    arguments: dict[str, Any]


def is_text_response(message: dict[str, Any] | None) -> bool:
    return bool(message) and message.get("role") == "user" and text_of(message.get("content")).startswith("<tool_response>")


def text_calls(message: dict[str, Any], schemas: dict[str, Any] | None = None) -> list[TextCall]:
    """The calls in an assistant message's content, in order; blocks that do not parse are skipped.
    `schemas` (tool name -> parameters) also finds bare-JSON calls naming one of those tools."""
    content = text_of(message.get("content"))
    if message.get("role") != "assistant" or not has_text_tool_calls(content, schemas):
        return []
    calls, _ = parse_text_tool_calls(content, schemas)
    return [TextCall(f"text_call_{i}", call.name, call.arguments) for i, call in enumerate(calls)]


def text_before_calls(content: Any) -> str:
    text = text_of(content)
    return text[: marker_offset(text)].strip()


def text_responses(message: dict[str, Any]) -> tuple[list[str], str]:
    """Each `<tool_response>` block's content as the tool returned it, and any text after the blocks."""
    text = text_of(message.get("content"))
    results = []
    end = 0
    for match in _RESPONSE.finditer(text):
        end = match.end()
        try:
            payload = json.loads(match.group(1))
        except json.JSONDecodeError:
            results.append(match.group(1))
            continue
        content = payload.get("content") if isinstance(payload, dict) else payload
        results.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    return results, text[end:].strip()
