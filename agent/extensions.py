"""MCP servers and hooks for this process, configured once from the settings and used by every agent.

The settings loader has already parsed `mcp_servers:` and `hooks:` into `settings.extensions` and
defined the mcp toolsets (agent/settings/checks.py); this module runs them:

    configure(settings)          # the front ends' load_settings calls it: start the servers in the
                                 #   background, keep the process's HookRunner
    hooks_for(settings)          # the HookRunner an agent uses (None when no hook is configured)
    sync_agent_tools(agent)      # before a model call: MCP tools that connected since appear
    shutdown()                   # stop the servers (atexit, SIGTERM, SIGHUP)

The mcp SDK is imported by the manager's thread only when an enabled server is configured.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.settings import Settings

_manager: Any = None  # mcp_client.manager.McpManager
_hooks: Any = None  # agent.hooks.HookRunner
_reported: set[tuple[str, str]] = set()
_lock = threading.Lock()
SLOW_NOTICE_AFTER = 1.0  # seconds of waiting for servers before one-shot runs say so


def configure(settings: Settings, *, start: bool = True) -> None:
    """Keep the settings' hooks for this process and start its enabled MCP servers (once per process)."""
    global _manager, _hooks
    _hooks = _runner(settings)
    servers = settings.extensions.servers
    with _lock:
        if _manager is not None:  # one set of servers per process (the REPL's /resume reconfigures nothing)
            return
        if not start or not any(s.enabled for s in servers):
            return
        from mcp_client.manager import McpManager

        _manager = McpManager(servers, settings.log_dir / "mcp")
    _manager.start()
    atexit.register(shutdown)
    _exit_on_hangup()


def _runner(settings: Settings) -> Any:
    if not any(settings.extensions.hooks.values()):
        return None
    from agent.hooks import HookRunner

    return HookRunner(settings.extensions.hooks, environ=settings.terminal.environ)


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
    """The process's HookRunner (configure), or None."""
    return _hooks


def hooks_for(settings: Settings) -> Any:
    """The HookRunner for an agent built from `settings`: the process's when they are its settings'
    hooks, else one of their own (the Python API and batch runners given their own settings)."""
    runner = _hooks
    if runner is not None and runner.hooks is settings.extensions.hooks:
        return runner
    return _runner(settings)


def manager() -> Any:
    return _manager


def has_servers() -> bool:
    """Whether MCP servers are configured (syncing an agent's tools may then wait on them)."""
    return _manager is not None


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


def connect_now(settings: Settings | None = None, *, wait: bool = True) -> Any:
    """For commands without an agent (--list-tools, replay): start the configured servers if nothing
    has, and `wait` for them (their startup timeouts; the REPL's /tools does not). Registers the
    tools of the servers that are up; returns the manager, or None."""
    if _manager is None:
        if settings is None:
            from agent.settings import load_settings

            settings = load_settings()
        configure(settings)
    manager = _manager
    if manager is None:
        return None
    from mcp_client.tools import sync

    if wait:
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
