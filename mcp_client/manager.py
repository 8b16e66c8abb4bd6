"""One asyncio event-loop thread owns every MCP session; other threads submit coroutines to it.

    manager = McpManager(servers, log_dir)
    manager.start()                      # returns at once; servers connect in the background
    manager.wait_ready(30)               # one-shot runs wait (up to the startup timeout) before the first call
    manager.call_tool("files", "read", {"path": "x"})   # -> tool-result JSON, never raises
    manager.stop()                       # every exit path (atexit, SIGTERM, SIGHUP)

Each server runs as one task that enters the transport and the ClientSession, lists tools, prompts and
resources, and then waits for stop: the SDK's anyio contexts must be entered and left by the same
task. A server that fails to start, times out or dies is one status line with its last error; its
tools answer with an error and the others carry on. Servers' stderr goes to <log_dir>/mcp/<name>.log.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_client import results
from mcp_client.config import ServerConfig

STOP_TIMEOUT = 6.0
PING_INTERVAL = {"stdio": 2.0, "http": 15.0}  # seconds between liveness pings of an idle connection  # the SDK gives a stdio server 2 s after closing stdin, then SIGTERM, then SIGKILL


@dataclass
class McpTool:
    server: str
    name: str  # the server's own name for it
    description: str
    input_schema: dict[str, Any]
    read_only: bool


@dataclass
class ServerState:
    config: ServerConfig
    status: str = "starting"  # starting | ready | failed | exited | stopped | disabled
    error: str | None = None
    tools: list[McpTool] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    has_resources: bool = False
    instructions: str | None = None
    started: float = field(default_factory=time.monotonic)
    ready_after: float | None = None
    session: Any = None
    settled: threading.Event = field(default_factory=threading.Event)  # left "starting"
    stop: asyncio.Event | None = None
    task: asyncio.Task | None = None

    @property
    def name(self) -> str:
        return self.config.name


class McpError(Exception):
    """A call could not be made or failed in transport; the message is fit for the model."""


class McpManager:
    def __init__(self, servers: list[ServerConfig], log_dir: Path) -> None:
        self.servers: dict[str, ServerState] = {}
        for cfg in servers:
            state = ServerState(cfg)
            if not cfg.enabled:
                state.status = "disabled"
                state.settled.set()
            self.servers[cfg.name] = state
        self.log_dir = log_dir
        self.generation = 0  # bumped whenever a server's tools appear or go away
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread and connect every enabled server in the background."""
        with self._lock:
            if self._thread is not None or not any(s.status == "starting" for s in self.servers.values()):
                return
            loop = asyncio.new_event_loop()
            self._loop = loop
            ready = threading.Event()
            self._thread = threading.Thread(target=self._run_loop, args=(loop, ready), name="mcp-loop", daemon=True)
            self._thread.start()
            ready.wait()
        for state in self.servers.values():
            if state.status == "starting":
                state.started = time.monotonic()
                asyncio.run_coroutine_threadsafe(self._launch(state), loop)

    def _run_loop(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def wait_ready(self, timeout: float | None = None) -> list[str]:
        """Wait until every server is ready or failed (at most each one's startup timeout, or `timeout`).

        Returns the names of servers still starting when the wait ended.
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        for state in self.servers.values():
            limit = state.started + state.config.startup_timeout + 1.0 - time.monotonic()
            if deadline is not None:
                limit = min(limit, deadline - time.monotonic())
            state.settled.wait(max(limit, 0))
        return [s.name for s in self.servers.values() if s.status == "starting"]

    def stop(self) -> None:
        """Close every session and stop the servers' processes; safe to call twice, from any thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop_all(), loop).result(STOP_TIMEOUT)
        except Exception:  # a server that will not close must not hang the exit
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(2.0)

    async def _stop_all(self) -> None:
        tasks = []
        for state in self.servers.values():
            if state.status in ("starting", "ready"):
                state.status = "stopped"
            if state.stop is not None:
                state.stop.set()
            if state.task is not None and not state.task.done():
                tasks.append(state.task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=0.5)
            for task in pending:  # e.g. waiting on a ping; closing the transport itself is shielded
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_TIMEOUT - 1.0)

    # -- one server ------------------------------------------------------------------------------
    async def _launch(self, state: ServerState) -> None:
        state.stop = asyncio.Event()
        state.task = asyncio.current_task()
        watchdog = asyncio.get_running_loop().call_later(state.config.startup_timeout, self._startup_expired, state)
        try:
            await self._serve(state)
        except asyncio.CancelledError:
            pass  # stop() or the start-up watchdog, which set the status already
        except BaseException as exc:  # noqa: BLE001 - anything a server does must end as a status line
            self._fail(state, exc)
        else:
            if state.status == "ready":
                self._settle(state, "exited", "the server closed the connection")
        finally:
            watchdog.cancel()
            state.session = None
            if state.status != "stopped":
                self._bump()

    def _startup_expired(self, state: ServerState) -> None:
        if state.status == "starting" and state.task is not None:
            # Say so now: stopping a stdio server that ignores its closed stdin takes a few seconds.
            self._settle(state, "failed", f"did not start within {state.config.startup_timeout:g}s")
            state.task.cancel()

    async def _serve(self, state: ServerState) -> None:
        from contextlib import AsyncExitStack

        from mcp import ClientSession

        cfg = state.config
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{cfg.name}.log", "a", encoding="utf-8") as errlog:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(cfg, errlog))
                session = await stack.enter_async_context(ClientSession(read, write))
                init = await session.initialize()
                caps = init.capabilities
                state.instructions = getattr(init, "instructions", None)
                tools = await self._list_tools(session, cfg.name) if caps.tools is not None else []
                state.tools = [t for t in tools if cfg.wants_tool(t.name)]
                state.prompts = await self._list_prompts(session) if caps.prompts is not None else []
                state.has_resources = caps.resources is not None
                state.session = session
                state.ready_after = time.monotonic() - state.started
                self._settle(state, "ready", None)
                self._bump()
                await self._watch(state, session)

    async def _watch(self, state: ServerState, session: Any) -> None:
        """Until stop: ping now and then, so a server that dies while idle shows as exited (and its
        tools go away) before the model tries it."""
        assert state.stop is not None
        interval = PING_INTERVAL[state.config.transport]
        while not state.stop.is_set():
            try:
                await asyncio.wait_for(state.stop.wait(), interval)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(session.send_ping(), interval)
            except Exception as exc:
                if _is_closed(exc):
                    raise
                # a slow answer or an odd server is not a dead one

    def _transport(self, cfg: ServerConfig, errlog: Any) -> Any:
        if cfg.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(command=cfg.command or "", args=cfg.args, env=cfg.env or None, cwd=cfg.cwd)
            return stdio_client(params, errlog=errlog)
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client  # the SDK's client with its MCP timeouts

        headers = dict(cfg.headers)
        if token := cfg.bearer_token():
            headers["Authorization"] = f"Bearer {token}"
        return streamable_http_client(cfg.url or "", http_client=create_mcp_http_client(headers=headers))

    async def _list_tools(self, session: Any, server: str) -> list[McpTool]:
        found, cursor = [], None
        for _ in range(100):  # a server whose pagination never ends must not hang start-up
            page = await session.list_tools(params=self._page(cursor))
            for tool in page.tools:
                annotations = tool.annotations
                found.append(McpTool(
                    server=server, name=tool.name, description=tool.description or tool.title or tool.name,
                    input_schema=tool.input_schema or {"type": "object", "properties": {}},
                    read_only=bool(annotations and annotations.read_only_hint),
                ))
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    async def _list_prompts(self, session: Any) -> list[dict[str, Any]]:
        page = await session.list_prompts()
        return [{"name": p.name, "description": p.description or "",
                 "arguments": [{"name": a.name, "required": bool(a.required), "description": a.description or ""}
                               for a in p.arguments or []]} for p in page.prompts]

    @staticmethod
    def _page(cursor: str | None) -> Any:
        if cursor is None:
            return None
        from mcp.types import PaginatedRequestParams

        return PaginatedRequestParams(cursor=cursor)

    def _settle(self, state: ServerState, status: str, error: str | None) -> None:
        state.status, state.error = status, error
        state.settled.set()

    def _fail(self, state: ServerState, exc: BaseException) -> None:
        if state.status == "stopped":
            return
        status = "failed" if state.status == "starting" else "exited"
        self._settle(state, status, describe(exc) + (self._stderr_tail(state) if status == "failed" else ""))

    def _log_size(self, state: ServerState) -> int:
        try:
            return (self.log_dir / f"{state.name}.log").stat().st_size
        except OSError:
            return 0

    def _stderr_tail(self, state: ServerState, since: int = 0) -> str:
        """The server's last stderr line (written after byte `since`), for its status line."""
        try:
            with open(self.log_dir / f"{state.name}.log", "rb") as fh:
                fh.seek(since)
                lines = fh.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return f" (stderr: {last[:200]})" if last else ""

    def _bump(self) -> None:
        with self._lock:
            self.generation += 1

    # -- calls from agent threads ----------------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, Any], timeout: float,
                interrupt: threading.Event | None = None) -> Any:
        """Run `coro` on the loop and wait for it; an interrupt (Ctrl-C, SIGTERM) cancels the call."""
        if self._loop is None:
            coro.close()
            raise McpError("MCP servers were not started")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(0.1 if interrupt is not None else max(deadline - time.monotonic(), 0))
            except TimeoutError:
                if interrupt is not None and interrupt.is_set():
                    future.cancel()
                    raise McpError("interrupted by the user") from None
                if time.monotonic() >= deadline:
                    future.cancel()
                    raise McpError(f"no answer within {timeout:g}s") from None
            except BaseException:  # Ctrl-C in the waiting thread: do not leave the request running
                future.cancel()
                raise

    def _session(self, server: str) -> tuple[ServerState, Any]:
        state = self.servers.get(server)
        if state is None:
            raise McpError(f"no MCP server named '{server}'")
        if state.status != "ready" or state.session is None:
            detail = f": {state.error}" if state.error else ""
            raise McpError(f"MCP server '{server}' is not running ({state.status}{detail})")
        return state, state.session

    def call_tool(self, server: str, tool: str, arguments: dict[str, Any],
                  interrupt: threading.Event | None = None) -> str:
        """Call one tool; the result (or the failure) as tool-result JSON for the model."""
        try:
            state, session = self._session(server)
        except McpError as exc:
            return json.dumps({"error": str(exc)})
        timeout = state.config.timeout
        try:
            result = self._submit(self._guarded(state, session.call_tool(tool, arguments, read_timeout_seconds=timeout)),
                                  timeout + 5, interrupt)
        except McpError as exc:
            return json.dumps({"error": f"MCP tool {server}/{tool} failed: {exc}"})
        return results.tool_result_json(result)

    async def _guarded(self, state: ServerState, coro: Coroutine[Any, Any, Any]) -> Any:
        """Await a session call; transport failures become McpError and may mark the server dead."""
        log_size = self._log_size(state)
        try:
            return await coro
        except McpError:
            raise
        except Exception as exc:
            message = describe(exc)
            if _is_timeout(exc):
                raise McpError(f"no answer within {state.config.timeout:g}s (the server is still running; "
                               f"the call was cancelled)") from None
            if _is_closed(exc):
                await asyncio.sleep(0.05)  # let the server task see the end and record it
                if state.status == "ready":
                    self._settle(state, "exited", message + self._stderr_tail(state, log_size))
                    self._bump()
                raise McpError(f"the server died during the call: {state.error or message}") from None
            raise McpError(message) from None

    def list_resources(self, server: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for state in self.servers.values():
            if (server and state.name != server) or not state.has_resources or state.status != "ready":
                continue
            session = state.session
            page = self._submit(self._guarded(state, session.list_resources()), state.config.timeout + 5)
            out += [{"server": state.name, "uri": str(r.uri), "name": r.name, "description": r.description or "",
                     "mime_type": r.mime_type} for r in page.resources]
        return out

    def read_resource(self, server: str, uri: str) -> str:
        state, session = self._session(server)
        result = self._submit(self._guarded(state, session.read_resource(uri)), state.config.timeout + 5)
        return results.resource_result_json(uri, result)

    def get_prompt(self, server: str, name: str, arguments: dict[str, str]) -> str:
        state, session = self._session(server)
        result = self._submit(self._guarded(state, session.get_prompt(name, arguments)), state.config.timeout + 5)
        return results.prompt_text(result)


def describe(exc: BaseException) -> str:
    """One line for an exception, looking inside anyio/asyncio exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("mcp", "mcp_types"):
        return "the `mcp` Python package is not installed here: pip install 'mcp>=2.3'"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if getattr(exc, "error", None) is not None and getattr(exc.error, "message", None):  # MCPError
        text = exc.error.message
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _code(exc: BaseException) -> int | None:
    error = getattr(exc, "error", None)
    return getattr(error, "code", None)


def _is_timeout(exc: BaseException) -> bool:
    from mcp.types import REQUEST_TIMEOUT

    return _code(exc) == REQUEST_TIMEOUT or isinstance(exc, TimeoutError)


def _is_closed(exc: BaseException) -> bool:
    import anyio
    from mcp.types import CONNECTION_CLOSED

    return _code(exc) == CONNECTION_CLOSED or isinstance(
        exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream | ConnectionError)
