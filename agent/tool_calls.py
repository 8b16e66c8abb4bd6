"""Tool calls written as text, as local models without a server-side tool parser emit them.

`<tool_call>{…}</tool_call>` (Hermes) and the other open-model formats (Qwen3-Coder XML, Mistral,
Llama, Gemma, DeepSeek, bare JSON naming a known tool: see agent/text_call_formats.py). The
content is kept and recorded exactly as the model wrote it; the calls are read from it to run
them, and a call that cannot be read becomes an error result the model can correct.
"""

from __future__ import annotations

import json
from typing import Any

from agent import text_call_formats as formats
from agent.text_call_formats import Schemas, TextToolCall

__all__ = ["TextToolCall", "format_tool_responses", "has_text_tool_calls", "parse_text_tool_calls"]

# (marker, parser), first match wins. Hermes first: Qwen3-Coder's XML also comes inside <tool_call>.
_MARKED = (
    ("<tool_call>", formats.parse_hermes),
    ("<function=", formats.parse_qwen_xml),
    ("[TOOL_CALLS]", formats.parse_mistral),
    ("<｜tool▁calls▁begin｜>", formats.parse_deepseek),
    ("<｜tool▁call▁begin｜>", formats.parse_deepseek),
    ("<|python_tag|>", formats.parse_llama),
    ("<start_function_call>", formats.parse_gemma_call),
    ("<|tool_call>", formats.parse_gemma_call),
    ("```tool_code", formats.parse_gemma_fence),
    ("```tool_call", formats.parse_gemma_fence),
)


def _parser(content: str, schemas: Schemas | None) -> Any:
    for marker, parse in _MARKED:
        if marker in content:
            return parse
    head = content.lstrip()[:8]
    if schemas and head.startswith(("{", "[", "```")):
        return formats.parse_bare_json
    return None


def marker_offset(content: str) -> int:
    """Where the first written call starts (0 for bare JSON, the length when there is none)."""
    found = [i for marker, _ in _MARKED if (i := content.find(marker)) >= 0]
    if found:
        return min(found)
    return 0 if content.lstrip()[:1] in ("{", "[") else len(content)


def has_text_tool_calls(content: str | None, schemas: Schemas | None = None) -> bool:
    """Cheap: a few substring checks. `schemas` (tool name -> parameters) enables bare-JSON calls."""
    return bool(content) and _parser(content, schemas) is not None


def parse_text_tool_calls(content: str, schemas: Schemas | None = None) -> tuple[list[TextToolCall], list[str]]:
    """Return the calls found and one error string per call that could not be read."""
    parse = _parser(content, schemas) if content else None
    if parse is None:
        return [], []
    calls, errors = parse(content, schemas)
    if errors and not calls and parse is not formats.parse_hermes and not _opens_a_line(content, parse):
        return [], []  # prose that mentions a marker ("Mistral writes [TOOL_CALLS] …") is an answer
    return calls, errors


def _opens_a_line(content: str, parse: Any) -> bool:
    """Whether one of the parser's markers starts a line (models write calls there, prose does not)."""
    for marker, marker_parse in _MARKED:
        if marker_parse is not parse:
            continue
        at = content.find(marker)
        while at >= 0:
            if not content[content.rfind("\n", 0, at) + 1 : at].strip():
                return True
            at = content.find(marker, at + 1)
    return False


def format_tool_responses(results: list[tuple[str, str]]) -> str:
    """Results for text-mode calls go back as one user message of <tool_response> blocks (seed format)."""
    blocks = []
    for name, content in results:
        try:
            parsed: Any = json.loads(content)
        except (ValueError, RecursionError):
            parsed = content
        payload = json.dumps({"name": name, "content": parsed}, ensure_ascii=False)
        blocks.append(f"<tool_response>\n{payload}\n</tool_response>")
    return "\n".join(blocks)
