"""MCP tools in hermes' registry and toolsets, their approval rule, and the `mcp_resources` tool.

Toolsets: `mcp-<server>` per configured server and `mcp` (all of them, plus `mcp_resources`) exist
from config time, so `--toolsets mcp-files` is checked like any other name; their tools fill in as
servers connect (`sync`), which the agent calls from its own thread before a model call.
"""

from __future__ import annotations

import json
from typing import Any

import toolsets
from mcp_client import names
from mcp_client.manager import McpManager, McpTool
from tools.registry import REGISTRY, Tool, ToolContext, register, tool_error

RESOURCES_TOOL = "mcp_resources"
_registered: dict[str, str] = {}  # model-facing name -> server
_names: dict[tuple[str, str], str] = {}  # (server, tool) -> model-facing name, stable for the process


def registered() -> dict[str, str]:
    """Model-facing MCP tool names -> their server."""
    return dict(_registered)


def define_toolsets(server_names: list[str]) -> None:
    """`mcp` and `mcp-<server>` (empty until the servers connect)."""
    for server in server_names:
        toolsets.create_custom_toolset(names.toolset_name(server), f"Tools of the MCP server '{server}'", [])
    toolsets.create_custom_toolset("mcp", "Every MCP server's tools, and mcp_resources", [RESOURCES_TOOL],
                                   [names.toolset_name(s) for s in server_names])


def sync(manager: McpManager) -> None:
    """Make the registry and toolsets match the servers' current tools (call from the agent's thread)."""
    taken = set(REGISTRY) | set(_names.values())
    for state in manager.servers.values():
        tool_names = []
        live = state.status == "ready"
        for tool in state.tools if live else []:
            name = _names.get((state.name, tool.name))
            if name is None:
                name = _names[(state.name, tool.name)] = names.tool_name(state.name, tool.name, taken)
            taken.add(name)
            tool_names.append(name)
            _register_tool(manager, name, tool)
        for stale in [n for n, s in _registered.items() if s == state.name and n not in tool_names]:
            REGISTRY.pop(stale, None)
            _registered.pop(stale, None)
        key = names.toolset_name(state.name)
        if key in toolsets.TOOLSETS:
            toolsets.TOOLSETS[key]["tools"] = tool_names
    if RESOURCES_TOOL not in REGISTRY:
        register(Tool(RESOURCES_TOOL, "mcp", RESOURCES_DESCRIPTION, RESOURCES_SCHEMA,
                      lambda args, ctx: resources_handler(manager, args), check=lambda: _resources_check(manager)))


def _register_tool(manager: McpManager, name: str, tool: McpTool) -> None:
    server = manager.servers[tool.server]

    def handler(args: dict[str, Any], ctx: ToolContext) -> str:
        denied = approve_mcp_call(name, tool, args, ctx, trusted=server.config.trust)
        if denied:
            return tool_error(denied)
        return manager.call_tool(tool.server, tool.name, args, ctx.interrupt)

    def check() -> str | None:
        return None if server.status == "ready" else f"MCP server '{tool.server}' is {server.status}"

    description = f"{tool.description.strip()}\n[{tool.server}/{tool.name}]"  # the origin, for the model and us
    register(Tool(name, names.toolset_name(tool.server), description, _schema(tool.input_schema), handler, check))
    _registered[name] = tool.server


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The server's inputSchema as function parameters (an object schema, without the cosmetic title)."""
    schema = {k: v for k, v in schema.items() if k != "title"}
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def approve_mcp_call(name: str, tool: McpTool, args: dict[str, Any], ctx: ToolContext, *, trusted: bool) -> str | None:
    """THE approval decision for MCP tools: None to run, else the error the model gets back.

    MCP tools go through the one gate (tools/gate.py): tools the server marks read-only
    (readOnlyHint) run; others follow the approval mode (ask, and denied where nobody can be asked;
    read-only mode refuses them). A server configured `trust: true` runs without asking, except in
    read-only mode, which nothing but a read-only tool passes.
    """
    from tools import gate

    if trusted and not tool.read_only and gate.mode_of(ctx) != gate.READ_ONLY:
        return None
    subject = f"{name} {json.dumps(args, ensure_ascii=False)[:300]}"
    return gate.check(gate.ToolCall(name, read_only=tool.read_only), ctx, subject=subject)


RESOURCES_DESCRIPTION = (
    "List or read resources (files, records, documents) offered by the connected MCP servers. "
    "action=list shows each resource's server and uri; action=read returns one resource's content."
)
RESOURCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["list", "read"], "description": "list or read"},
        "server": {"type": "string", "description": "MCP server name (required for read; filters list)"},
        "uri": {"type": "string", "description": "resource uri to read (from action=list)"},
    },
    "required": ["action"],
}


def _resources_check(manager: McpManager) -> str | None:
    if any(s.status == "ready" and s.has_resources for s in manager.servers.values()):
        return None
    return "no connected MCP server offers resources"


def resources_handler(manager: McpManager, args: dict[str, Any]) -> str:
    """Resource reads are read-only by definition, so they need no approval."""
    from mcp_client.manager import McpError

    action, server, uri = args.get("action"), args.get("server"), args.get("uri")
    try:
        if action == "list":
            found = manager.list_resources(server or None)
            return json.dumps({"resources": found, "count": len(found)}, ensure_ascii=False)
        if action == "read":
            if not uri:
                return tool_error("action=read needs `uri` (see action=list)")
            if not server:
                owners = [s.server for s in _known_resources(manager) if s.uri == uri] or None
                if not owners or len(set(owners)) > 1:
                    return tool_error("action=read needs `server` (the MCP server that offers the uri)")
                server = owners[0]
            return manager.read_resource(server, uri)
    except McpError as exc:
        return tool_error(f"mcp_resources {action} failed: {exc}")
    except Exception as exc:  # a server error (unknown uri, ...) is the model's to handle
        from mcp_client.manager import describe

        return tool_error(f"mcp_resources {action} failed: {describe(exc)}")
    return tool_error("action must be list or read")


class _Known:
    def __init__(self, server: str, uri: str) -> None:
        self.server, self.uri = server, uri


def _known_resources(manager: McpManager) -> list[_Known]:
    try:
        return [_Known(r["server"], r["uri"]) for r in manager.list_resources()]
    except Exception:
        return []
