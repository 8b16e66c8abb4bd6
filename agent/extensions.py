"""MCP servers and hooks for this process, configured once from config and used by every agent.

    configure(config)            # load_settings calls it: parse `mcp_servers:` and `hooks:`, define the
                                 #   mcp toolsets, start the servers in the background
    hooks()                      # the HookRunner (None when no hook is configured)
    sync_agent_tools(agent)      # before a model call: MCP tools that connected since appear
    shutdown()                   # stop the servers (atexit, SIGTERM, SIGHUP)

The mcp SDK is imported by the manager's thread only when an enabled server is configured.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from typing import Any

from agent.config import Config

_manager: Any = None  # mcp_client.manager.McpManager
_hooks: Any = None  # agent.hooks.HookRunner
_reported: set[tuple[str, str]] = set()
_lock = threading.Lock()
SLOW_NOTICE_AFTER = 1.0  # seconds of waiting for servers before one-shot runs say so


def configure(config: Config, *, start: bool = True) -> None:
    """Parse and apply `mcp_servers` and `hooks` (ConfigError with file:line on a bad entry)."""
    global _manager, _hooks
    _hooks = None
    if config.get("hooks"):  # nothing to import or parse for the common case
        from agent.hooks import HookRunner
        from agent.hooks_config import parse_hooks

        hooks = parse_hooks(config.get("hooks"), _source(config, "hooks"))
        _hooks = HookRunner(hooks) if any(hooks.values()) else None
    raw = config.get("mcp_servers")
    if not raw:
        return
    from mcp_client.config import parse_servers
    from mcp_client.tools import define_toolsets

    servers = parse_servers(raw, _source(config, "mcp_servers"), config.sources)
    define_toolsets([s.name for s in servers])
    with _lock:
        if _manager is not None:  # one set of servers per process (the REPL's /resume reconfigures nothing)
            return
        if not start or not any(s.enabled for s in servers):
            return
        from mcp_client.manager import McpManager
        from recording.paths import log_dir

        _manager = McpManager(servers, log_dir() / "mcp")
    _manager.start()
    atexit.register(shutdown)
    _exit_on_hangup()


def _source(config: Config, key: str) -> str | None:
    """The file that set a top-level section (Config tracks `section.sub` keys)."""
    for dotted, path in config.sources.items():
        if dotted == key or dotted.startswith(key + "."):
            return path
    return None


def _exit_on_hangup() -> None:
    """SIGTERM / SIGHUP left at their defaults would skip atexit and orphan the servers."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def hooks() -> Any:
    return _hooks


def manager() -> Any:
    return _manager


def sync_agent_tools(agent: Any) -> None:
    """Give `agent` the MCP tools that connected since its tool list was built.

    Non-interactive runs first wait for servers still starting (each up to its startup timeout) and
    say on stderr when one is slow or failed; the REPL never waits and shows failures as notices.
    """
    manager = _manager
    if manager is None:
        return
    interactive = getattr(agent, "_mode", None) == "repl"
    if not interactive:
        _wait(manager)
    generation = manager.generation
    if getattr(agent, "_mcp_generation", None) == generation:
        return
    import model_tools
    from mcp_client.tools import sync

    with _lock:  # batch workers sync from many threads; the registry is shared
        sync(manager)
        agent._mcp_generation = generation
        _report_failures(manager, agent, interactive)
        disabled = getattr(agent, "disabled_toolsets", None)
        tools = model_tools.get_tool_definitions(agent.enabled_toolsets, disabled)
    if tools != agent.tools:
        agent.set_toolsets(agent.enabled_toolsets, disabled)


def _wait(manager: Any) -> None:
    starting = manager.wait_ready(SLOW_NOTICE_AFTER)
    if not starting:
        return
    key = ("slow", ",".join(starting))
    if key not in _reported:
        _reported.add(key)
        sys.stderr.write(f"hermes: waiting for MCP server(s) {', '.join(starting)} to start\n")
        sys.stderr.flush()
    manager.wait_ready()


def _report_failures(manager: Any, agent: Any, interactive: bool) -> None:
    for state in manager.servers.values():
        if state.status not in ("failed", "exited"):
            continue
        key = (state.name, state.error or state.status)
        if key in _reported:
            continue
        _reported.add(key)
        text = f"MCP server '{state.name}' {state.status}: {state.error} (its tools are unavailable; /mcp shows status)"
        if interactive:
            from agent.events import Notice

            agent.on_event(Notice(text))
        else:
            sys.stderr.write(f"hermes: warning: {text}\n")
            sys.stderr.flush()


def connect_now(config: Config | None = None) -> Any:
    """For commands without an agent (--list-tools, replay): configure from the config files and wait
    for the servers (their startup timeouts). Already configured (the REPL's /tools): no waiting.
    Registers the tools of the servers that are up; returns the manager, or None."""
    fresh = _manager is None
    if fresh:
        from agent.config import load_config

        configure(config if config is not None else load_config())
    manager = _manager
    if manager is None:
        return None
    from mcp_client.tools import sync

    if fresh:
        manager.wait_ready()
    with _lock:
        sync(manager)
    return manager


def shutdown() -> None:
    manager = _manager
    if manager is not None:
        manager.stop()


def reset() -> None:
    """Stop everything and forget the configuration (tests; a process normally configures once)."""
    global _manager, _hooks
    shutdown()
    _manager, _hooks = None, None
    _reported.clear()
