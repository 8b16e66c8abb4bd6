"""One line per MCP server (for /mcp and --list-tools): status, transport, what it offers, last error."""

from __future__ import annotations

from mcp_client.manager import McpManager, ServerState

MARKS = {"ready": "✓", "starting": "…", "disabled": "-", "stopped": "-"}


def describe_server(state: ServerState) -> str:
    cfg = state.config
    where = cfg.url if cfg.transport == "http" else " ".join([cfg.command or "", *cfg.args])[:60]
    if state.status == "ready":
        offers = [f"{len(state.tools)} tool{'s' * (len(state.tools) != 1)}"]
        if state.prompts:
            offers.append(f"{len(state.prompts)} prompt{'s' * (len(state.prompts) != 1)}")
        if state.has_resources:
            offers.append("resources")
        after = f", ready in {state.ready_after:.1f}s" if state.ready_after is not None else ""
        return f"ready ({cfg.transport}: {where}; {', '.join(offers)}{after})"
    detail = f": {state.error}" if state.error else ""
    return f"{state.status} ({cfg.transport}: {where}){detail}"


def status_lines(manager: McpManager) -> list[str]:
    width = max((len(name) for name in manager.servers), default=0)
    return [f"  {MARKS.get(s.status, '✗')} {s.name:<{width}}  {describe_server(s)}" for s in manager.servers.values()]
