"""Tool calls written as text (`<tool_call>{…}</tool_call>`), as local models without a tool parser emit.

Accepted inside the tags: `{"name": ..., "arguments": {...}}` (Hermes), the same with single quotes
(Python-literal style), and `name{...}` (GLM / llama.cpp style). A missing closing tag at the very
end of the content is tolerated, since generation often stops right there.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_NAME_THEN_JSON = re.compile(r"^([A-Za-z_][\w.-]*)\s*(\{.*\})$", re.S)


@dataclass(frozen=True)
class TextToolCall:
    name: str
    arguments: dict[str, Any]


def has_text_tool_calls(content: str | None) -> bool:
    return bool(content) and "<tool_call>" in content


def _load_object(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)  # single-quoted dicts; raises ValueError/SyntaxError if hopeless


def _parse_block(body: str) -> TextToolCall:
    body = body.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    if match := _NAME_THEN_JSON.match(body):
        if not body.startswith("{"):
            arguments = _load_object(match.group(2))
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be an object")
            return TextToolCall(match.group(1), arguments)
    data = _load_object(body)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError('expected {"name": "...", "arguments": {...}}')
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = json.loads(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        raise ValueError("arguments must be an object")
    return TextToolCall(data["name"], arguments)


def parse_text_tool_calls(content: str) -> tuple[list[TextToolCall], list[str]]:
    """Return the calls found and one error string per block that could not be parsed."""
    calls: list[TextToolCall] = []
    errors: list[str] = []
    for match in _BLOCK.finditer(content):
        body = match.group(1)
        if not body.strip():
            continue
        try:
            calls.append(_parse_block(body))
        except (ValueError, SyntaxError, TypeError, json.JSONDecodeError) as exc:
            snippet = " ".join(body.split())[:120]
            errors.append(f"could not parse <tool_call> block ({exc}): {snippet}")
    return calls, errors


def format_tool_responses(results: list[tuple[str, str]]) -> str:
    """Results for text-mode calls go back as one user message of <tool_response> blocks (seed format)."""
    blocks = []
    for name, content in results:
        try:
            parsed: Any = json.loads(content)
        except json.JSONDecodeError:
            parsed = content
        payload = json.dumps({"name": name, "content": parsed}, ensure_ascii=False)
        blocks.append(f"<tool_response>\n{payload}\n</tool_response>")
    return "\n".join(blocks)
