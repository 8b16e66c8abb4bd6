"""MCP client: connect to the user's MCP servers and expose their tools, resources and prompts.

Nothing here imports the `mcp` SDK at module level: it is imported by the manager's event-loop
thread, and only when `mcp_servers:` names at least one enabled server.

    config.py   `mcp_servers:` -> ServerConfig dataclasses (file:line errors)
    names.py    mcp__<server>__<tool>, sanitised to the API's tool-name rules
    manager.py  one asyncio thread owning every session: start, call, stop, status
    results.py  CallToolResult / ReadResourceResult -> the JSON string a tool returns
    tools.py    registry and toolsets (`mcp`, `mcp-<server>`), the approval check, `mcp_resources`
    prompts.py  `/<server>:<prompt> args` -> the prompt's text
"""
