"""OpenAI-style messages -> ShareGPT turns in the Hermes dialect (reference/formats.md §1).

Roles map system/user/assistant/tool -> system/human/gpt/tool. The system turn is regenerated from
the tool schemas (the live system prompt, and any ephemeral one, is never saved). Every gpt turn
starts with a <think> block; tool calls become <tool_call> blocks; the results of one assistant
turn become a single tool turn of <tool_response> blocks. Results of text-mode <tool_call>s travel
as a user message and stay a `human` turn, as upstream's converter writes them (byte-identical).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent.tools_json import ByIdentity

SYSTEM_TEMPLATE = (
    "You are a function calling AI model. You are provided with function signatures within <tools> </tools> "
    "XML tags. You may call one or more functions to assist with the user query. If available tools are not "
    "relevant in assisting with user query, just respond in natural conversational language. Don't make "
    "assumptions about what values to plug into functions. After calling & executing the functions, you will "
    "be provided with function results within <tool_response> </tool_response> XML tags. Here are the "
    "available tools:\n<tools>\n{tools}\n</tools>\nFor each function call return a JSON object, with the "
    "following pydantic model json schema for each:\n{{'title': 'FunctionCall', 'type': 'object', "
    "'properties': {{'name': {{'title': 'Name', 'type': 'string'}}, 'arguments': {{'title': 'Arguments', "
    "'type': 'object'}}}}, 'required': ['name', 'arguments']}}\nEach function call should be enclosed within "
    "<tool_call> </tool_call> XML tags.\nExample:\n<tool_call>\n{{'name': <function-name>,'arguments': "
    "<args-dict>}}\n</tool_call>"
)



def _hermes_system_prompt(tools: list[dict[str, Any]]) -> str:
    flat = []
    for tool in tools:
        fn = tool.get("function", tool)
        flat.append(
            {"name": fn["name"], "description": fn.get("description", ""),
             "parameters": fn.get("parameters", {}), "required": None}
        )
    return SYSTEM_TEMPLATE.format(tools=json.dumps(flat, ensure_ascii=False))


# Made once per list of tools (every sample of a batch has the same few lists).
hermes_system_prompt: Callable[[list[dict[str, Any]]], str] = ByIdentity(_hermes_system_prompt)


def text_of(content: Any) -> str:
    """Message content may be a string or a list of parts; ShareGPT keeps the text, `<image>` per image."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Formats without an image slot get one `<image>` line per picture before the text (LLaVA's way).
    parts = [part for part in content if isinstance(part, dict)]
    images = sum(1 for part in parts if part.get("type") == "image_url")
    return "<image>\n" * images + "".join(part.get("text", "") for part in parts)


def _parse_args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
        if isinstance(raw, str) and raw.count("[") + raw.count("{") > 100:
            json.dumps(parsed)  # nested too deeply to encode again? then it is no usable call either
    except (ValueError, TypeError, RecursionError):  # also ints past 4,300 digits
        return {}
    return parsed if isinstance(parsed, dict) else {}


def scratchpad_to_think(text: str) -> str:
    """Each tag is replaced on its own, as upstream does (an unclosed scratchpad still opens a <think>)."""
    return text.replace("<REASONING_SCRATCHPAD>", "<think>").replace("</REASONING_SCRATCHPAD>", "</think>")


def gpt_value(message: dict[str, Any]) -> str:
    value = ""
    reasoning = message.get("reasoning")
    if reasoning and reasoning.strip():
        value = f"<think>\n{reasoning}\n</think>\n"
    content = scratchpad_to_think(text_of(message.get("content")))
    tool_calls = message.get("tool_calls") or []
    if tool_calls:
        if content.strip():
            value += content + "\n"
        for call in tool_calls:
            fn = call.get("function", {})
            payload = {"name": fn.get("name", ""), "arguments": _parse_args(fn.get("arguments"))}
            value += f"<tool_call>\n{json.dumps(payload, ensure_ascii=False)}\n</tool_call>\n"
    else:
        value += content
    if "<think>" not in value:
        value = "<think>\n</think>\n" + value
    return value.rstrip() if tool_calls else value.strip()


def _tool_content(content: Any) -> Any:
    text = text_of(content)
    if text.strip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def tool_value(tool_messages: list[dict[str, Any]], parent: dict[str, Any] | None) -> str:
    calls = (parent or {}).get("tool_calls") or []
    blocks = []
    for index, message in enumerate(tool_messages):
        name = calls[index]["function"]["name"] if index < len(calls) else "unknown"  # upstream's fallback
        payload = {"tool_call_id": message.get("tool_call_id", ""), "name": name,
                   "content": _tool_content(message.get("content"))}
        blocks.append(f"<tool_response>\n{json.dumps(payload, ensure_ascii=False)}\n</tool_response>")
    return "\n".join(blocks)


class ShareGPTBuilder:
    """Turns appended one message at a time, so a long session is never re-converted from scratch."""

    def __init__(self, tools: list[dict[str, Any]]) -> None:
        self.turns: list[dict[str, str]] = [{"from": "system", "value": hermes_system_prompt(tools)}]
        self._tool_group: list[dict[str, Any]] = []
        self._parent: dict[str, Any] | None = None
        self._previous: dict[str, Any] | None = None

    def add(self, message: dict[str, Any]) -> None:
        role = message.get("role")
        if role == "tool":
            if self._tool_group:
                self.turns.pop()  # the open tool turn grows by one result
            self._tool_group.append(message)
            self.turns.append({"from": "tool", "value": tool_value(self._tool_group, self._parent)})
        else:
            self._tool_group = []
            if role == "assistant":
                self._parent = message
                self.turns.append({"from": "gpt", "value": gpt_value(message)})
            elif role == "user":
                self.turns.append({"from": "human", "value": text_of(message.get("content"))})
            # system messages are not copied: the system turn is regenerated from the tools
        self._previous = message


def to_sharegpt(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, str]]:
    builder = ShareGPTBuilder(tools)
    for message in messages:
        builder.add(message)
    return builder.turns


def append_trajectory(messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str | None, *,
                      completed: bool, secrets: list[str | None]) -> None:
    """Seed-compatible `save_trajectories`: one ShareGPT record per run, appended in the cwd."""
    import json
    from datetime import datetime

    from recording.redact import Redactor

    record = {"conversations": to_sharegpt(messages, tools), "timestamp": datetime.now().isoformat(),
              "model": model, "completed": completed}
    name = "trajectory_samples.jsonl" if completed else "failed_trajectories.jsonl"
    line = Redactor(secrets)(json.dumps(record, ensure_ascii=False))
    with open(name, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
