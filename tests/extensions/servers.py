"""MCP servers for the tests, written with the SDK's server API (MCPServer, formerly FastMCP).

`write_stdio_server(dir)` writes a python script that serves over stdio; the script logs every
call it receives (JSON lines) to $MCP_TEST_LOG, sleeps $MCP_TEST_SLOW seconds before serving and
exits at once when a crash tool is called. `HttpServer` serves the same tools over streamable HTTP
on 127.0.0.1 (a free port) in a thread of the test process and records request headers.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

SERVER_SOURCE = r'''
import base64, json, os, sys, time

if os.environ.get("MCP_TEST_SLOW"):
    time.sleep(float(os.environ["MCP_TEST_SLOW"]))

import anyio
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents, ToolAnnotations

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
server = MCPServer("demo", instructions="A test server.")


def log(**fields):
    path = os.environ.get("MCP_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")


log(started=os.getpid())


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Echo the text back"""
    log(tool="echo", text=text)
    return f"echo: {text}"


@server.tool()
def write_note(name: str, body: str) -> str:
    """Write a note (not read-only: needs approval)"""
    log(tool="write_note", name=name, body=body)
    return f"saved {name}"


@server.tool(name="pic.snapshot", annotations=ToolAnnotations(read_only_hint=True))
def snapshot() -> Image:
    """A 1x1 PNG"""
    log(tool="pic.snapshot")
    return Image(data=PNG, format="png")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def doc() -> CallToolResult:
    """Text and an embedded resource"""
    log(tool="doc")
    return CallToolResult(content=[
        TextContent(text="see the attached file"),
        EmbeddedResource(resource=TextResourceContents(uri="file:///notes/a.txt", mime_type="text/plain",
                                                       text="contents of a.txt")),
    ])


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def fail(reason: str) -> str:
    """Always fails"""
    log(tool="fail", reason=reason)
    raise ToolError(reason)


@server.tool()
def hidden() -> str:
    """Listed by the server, hidden by disabled_tools"""
    return "hidden"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def crash() -> str:
    """The server process dies mid-call"""
    log(tool="crash")
    print("about to crash", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def hang() -> str:
    """Never answers"""
    log(tool="hang")
    await anyio.sleep(3600)
    return "never"


@server.resource("note://readme", name="readme", mime_type="text/plain")
def readme() -> str:
    log(resource="note://readme")
    return "the readme text"


@server.prompt()
def review(path: str, focus: str = "bugs") -> str:
    """Review a file"""
    log(prompt="review", path=path, focus=focus)
    return f"Please review {path}, looking for {focus}."


if __name__ == "__main__":
    server.run()
'''


def write_stdio_server(directory: Path) -> Path:
    path = directory / "demo_server.py"
    path.write_text(SERVER_SOURCE, encoding="utf-8")
    return path


def stdio_entry(script: Path, log: Path, **extra) -> dict:
    """A `mcp_servers:` entry that starts the script with this interpreter."""
    entry = {"command": sys.executable, "args": [str(script)], "env": {"MCP_TEST_LOG": str(log)}}
    entry.update(extra)
    return entry


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HttpServer:
    """The demo server over streamable HTTP in a background thread; records the requests' headers."""

    def __init__(self, script: Path, log: Path) -> None:
        import os
        import runpy

        os.environ["MCP_TEST_LOG"] = str(log)  # the module reads it at call time
        module = runpy.run_path(str(script), run_name="demo_server")
        self.server = module["server"]
        self.headers: list[dict[str, str]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._uvicorn = None
        self._thread: threading.Thread | None = None

    def start(self) -> HttpServer:
        import uvicorn

        app = self.server.streamable_http_app()
        seen = self.headers

        async def recording(scope, receive, send):
            if scope["type"] == "http":
                seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        config = uvicorn.Config(recording, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._uvicorn.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def close(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
