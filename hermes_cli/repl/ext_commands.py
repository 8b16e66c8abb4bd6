"""REPL commands for issue 17: /mcp, /hooks and MCP prompts as `/<server>:<prompt> args`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent import extensions

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl


def show_mcp(repl: Repl) -> None:
    """/mcp: each server's status, tools, prompts and last error."""
    manager = extensions.manager()
    if manager is None:
        repl.renderer.info("no MCP servers configured (add them under mcp_servers: in config.yaml; see README)")
        return
    from mcp_client import tools
    from mcp_client.prompts import usage
    from mcp_client.status import describe_server

    tools.sync(manager)
    lines = []
    for state in manager.servers.values():
        lines.append(f"{state.name}: {describe_server(state)}")
        tool_names = sorted(n for n, server in tools.registered().items() if server == state.name)
        if tool_names:
            lines.append(f"  tools: {', '.join(tool_names)}")
        if state.prompts:
            lines.append(f"  prompts: {'  '.join(usage(state.name, p) for p in state.prompts)}")
    repl.renderer.info("\n".join(lines))


def show_hooks(repl: Repl) -> None:
    """/hooks: the configured hooks, in the order they run."""
    runner = repl.agent.hooks
    if not runner:
        repl.renderer.info("no hooks configured (add them under hooks: in config.yaml; see README)")
        return
    rows = [[event, matcher, command, f"{timeout:g}s"] for event, matcher, command, timeout in runner.listing()]
    repl.renderer.table("Hooks", ["event", "matcher", "command", "timeout"], rows)
    repl.renderer.info("exit 0 continues (stdout adds context to prompts) · exit 2 blocks · other codes are reported")


def prompt_commands() -> list[tuple[str, str]]:
    """(`server:prompt`, description) for every prompt of a connected server, for Tab completion."""
    manager = extensions.manager()
    if manager is None:
        return []
    return [(f"{state.name}:{p['name']}", p["description"]) for state in manager.servers.values()
            if state.status == "ready" for p in state.prompts]


def run_prompt(repl: Repl, word: str, arg: str) -> bool:
    """`/<server>:<prompt> args`: fetch the prompt and send it as the message; False if `word` is not one."""
    server, colon, name = word.partition(":")
    manager = extensions.manager()
    if not colon or manager is None or server not in manager.servers:
        return False
    from mcp_client.prompts import PromptError, expand

    try:
        text = expand(manager, server, name, arg)
    except PromptError as exc:
        repl.renderer.warn(str(exc))
        return True
    repl.run_turn(text)
    return True
