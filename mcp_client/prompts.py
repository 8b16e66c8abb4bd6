"""MCP prompts as REPL slash commands: `/<server>:<prompt> args` -> the text sent as the user's message.

Arguments are `name=value` words, or plain words given to the prompt's arguments in order (the last
argument takes the rest of the line). Missing required arguments are one clear line.
"""

from __future__ import annotations

import shlex
from typing import Any

from mcp_client.manager import McpManager


class PromptError(ValueError):
    """Unknown server or prompt, or bad arguments; the message says how to call it."""


def usage(server: str, prompt: dict[str, Any]) -> str:
    args = " ".join(f"{a['name']}=…" if a["required"] else f"[{a['name']}=…]" for a in prompt["arguments"])
    return f"/{server}:{prompt['name']} {args}".rstrip()


def find_prompt(manager: McpManager, server: str, name: str) -> dict[str, Any]:
    state = manager.servers.get(server)
    if state is None:
        raise PromptError(f"no MCP server '{server}' (configured: {', '.join(manager.servers) or 'none'})")
    if state.status != "ready":
        raise PromptError(f"MCP server '{server}' is {state.status}" + (f": {state.error}" if state.error else ""))
    for prompt in state.prompts:
        if prompt["name"] == name:
            return prompt
    known = ", ".join(p["name"] for p in state.prompts) or "none"
    raise PromptError(f"MCP server '{server}' has no prompt '{name}' (its prompts: {known})")


def parse_arguments(prompt: dict[str, Any], text: str) -> dict[str, str]:
    declared = [a["name"] for a in prompt["arguments"]]
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    values: dict[str, str] = {}
    positional: list[str] = []
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key in declared:
            values[key] = value
        else:
            positional.append(word)
    free = [name for name in declared if name not in values]
    for i, name in enumerate(free):
        if i >= len(positional):
            break
        values[name] = " ".join(positional[i:]) if i == len(free) - 1 else positional[i]
    if positional and not free:
        raise PromptError("too many arguments")
    return values


def expand(manager: McpManager, server: str, name: str, text: str) -> str:
    """The prompt's text for `/<server>:<name> text`; PromptError says what is wrong."""
    prompt = find_prompt(manager, server, name)
    try:
        values = parse_arguments(prompt, text)
    except PromptError as exc:
        raise PromptError(f"{exc}; usage: {usage(server, prompt)}") from None
    missing = [a["name"] for a in prompt["arguments"] if a["required"] and a["name"] not in values]
    if missing:
        raise PromptError(f"missing argument(s) {', '.join(missing)}; usage: {usage(server, prompt)}")
    from mcp_client.manager import McpError, describe

    try:
        return manager.get_prompt(server, name, values)
    except McpError as exc:
        raise PromptError(f"/{server}:{name} failed: {exc}") from None
    except Exception as exc:  # the server refused (bad argument values, ...)
        raise PromptError(f"/{server}:{name} failed: {describe(exc)}") from None
