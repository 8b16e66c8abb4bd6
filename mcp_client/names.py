"""Model-facing names of MCP tools: `mcp__<server>__<tool>`, valid for every OpenAI-compatible API.

The API allows ^[a-zA-Z0-9_-]{1,64}$; MCP tool names may contain `.` or `/` and be long. Other
characters become `_`; a name over 64 characters keeps its head and gets a short hash of the full
name, so two long names stay distinct (Codex does the same).
"""

from __future__ import annotations

import hashlib
import re

MAX_LEN = 64
PREFIX = "mcp__"
_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def sanitize(text: str) -> str:
    return _BAD.sub("_", text)


def tool_name(server: str, tool: str, taken: set[str] | None = None) -> str:
    """The name the model sees for `tool` of `server`; unique among `taken`."""
    full = f"{PREFIX}{sanitize(server)}__{sanitize(tool)}"
    name = full if len(full) <= MAX_LEN else _shorten(full, f"{server}/{tool}")
    n = 2
    base = name
    while taken is not None and name in taken:  # two tools that sanitise alike
        suffix = f"_{n}"
        name = base[: MAX_LEN - len(suffix)] + suffix
        n += 1
    return name


def _shorten(name: str, original: str) -> str:
    digest = hashlib.sha1(original.encode("utf-8")).hexdigest()[:8]
    return f"{name[: MAX_LEN - 9]}_{digest}"


def toolset_name(server: str) -> str:
    return f"mcp-{server}"
