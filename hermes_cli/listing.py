"""--list-tools and --list-toolsets: what the model could see here, and why anything is missing."""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import TextIO

import model_tools
import toolsets


def list_tools(out: TextIO = sys.stdout, *, wait: bool = True) -> int:
    """`wait`: for MCP servers still starting (not in the REPL)."""
    mcp_lines = _connect_mcp_servers(wait)  # issue 17: configured MCP servers' tools, or why they are missing
    statuses = model_tools.tool_availability()
    width = max(len(s.name) for s in statuses)
    current = None
    for status in sorted(statuses, key=lambda s: list(toolsets.TOOLSETS).index(s.toolset)
                         if s.toolset in toolsets.TOOLSETS else 99):
        if status.toolset != current:
            current = status.toolset
            out.write(f"{current}:\n")
        mark = "✓" if status.available else "✗"
        note = "" if status.available else f"  unavailable: {status.reason}"
        out.write(f"  {mark} {status.name:<{width}}{note}".rstrip() + "\n")
    available = sum(s.available for s in statuses)
    for line in mcp_lines:
        out.write(line + "\n")
    out.write(f"\n{available} of {len(statuses)} tools available\n")
    return 0


def list_toolsets(out: TextIO = sys.stdout, *, wait: bool = True) -> int:
    _connect_mcp_servers(wait)
    reasons = {s.name: s.reason or "unavailable" for s in model_tools.tool_availability() if not s.available}
    width = max(len(name) for name in toolsets.TOOLSETS)
    indent = " " * (width + 4)
    columns = max(shutil.get_terminal_size((100, 24)).columns - 1, 60)
    for name, definition in toolsets.TOOLSETS.items():
        tools = toolsets.resolve_toolset(name)
        includes = f" (includes {', '.join(definition['includes'])})" if definition["includes"] else ""
        out.write(f"  {name:<{width}}  {definition['description']}{includes}\n")
        for line in toolset_lines(tools, reasons):
            out.write(textwrap.fill(line, columns, initial_indent=indent, subsequent_indent=indent + "  ") + "\n")
    out.write("\n  all, *  every toolset\n")
    return 0


def toolset_lines(tools: list[str], reasons: dict[str, str]) -> list[str]:
    """`N/M available: ...` naming only the tools that can run, then one `unavailable: ... (reason)`
    line per reason (tools sharing a reason, e.g. the browser's, are named together)."""
    ready = [t for t in tools if t not in reasons]
    lines = [f"{len(ready)}/{len(tools)} available: {', '.join(ready) or 'none'}"]
    by_reason: dict[str, list[str]] = {}
    for tool in tools:
        if tool in reasons:
            by_reason.setdefault(reasons[tool], []).append(tool)
    lines += [f"unavailable: {', '.join(names)} ({reason})" for reason, names in by_reason.items()]
    return lines


def _connect_mcp_servers(wait: bool) -> list[str]:
    """The configured MCP servers (started by load_settings): wait for them if asked (startup timeouts),
    register their tools."""
    from agent import extensions

    manager = extensions.manager()
    if manager is None:
        return []
    extensions.connect_now(wait=wait)
    from mcp_client.status import status_lines

    return ["", "MCP servers:", *status_lines(manager)]
