"""A tiny real web server on 127.0.0.1 for tests: routes are paths mapped to canned responses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0
    send_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Site:
    """A tiny web server: `routes[path] = Route(...)`; `requests` lists every path asked for."""

    routes: dict[str, str | Route | Callable[[str, bytes, dict[str, str]], Route]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            data = self.rfile.read(length) if length else b""
            site.requests.append((self.command, self.path))
            site.headers.append(dict(self.headers))
            route = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
            if callable(route):
                route = route(self.path, data, dict(self.headers))
            if isinstance(route, str | bytes):
                route = Route(route)
            if route is None:
                route = Route("<h1>Not here</h1>", status=404)
            if route.delay:
                time.sleep(route.delay)
            body = route.body.encode() if isinstance(route.body, str) else route.body
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.send_length:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first (timeouts, size limits)
                pass

        do_GET = do_POST = _serve

    return Handler


@contextmanager
def serve() -> Iterator[Site]:
    result = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(result))
    server.daemon_threads = True
    result.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        server.shutdown()
        server.server_close()
