"""A lean asyncio HTTP/1.1 client for chat completions: what `hermes batch --driver asyncio` speaks.

At 1,000 samples in flight the SDK's stack (openai's request building, httpx, httpcore, anyio, h11)
cost ~5 ms of CPU per model call on this machine; this client costs ~0.65 ms (bench/bench_wire.py),
which is the difference between a batch runner that keeps up with a slow endpoint and one that
cannot. It does one thing: POST a JSON body to `<base_url>/chat/completions` over a kept-alive
connection (TLS for https) and hand the reply to the same readers the SDK path uses
(`StreamFold`, `from_raw`, `parse_event`), so both paths judge replies alike.

Failures are shaped the way agent/retry.py reads the SDK's: an error status is a `StatusError` with
`status_code`, `body` and `response.headers` (Retry-After); a refused connection is
`ConnectionRefusedError`; silence is `StallTimeout`. An endpoint reached through an HTTP proxy
(HTTPS_PROXY, ...) is not for this client: `usable()` says so and the caller keeps the SDK.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.request
import zlib
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from agent.llm import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STALL_TIMEOUT,
    BadResponse,
    Completion,
    StallTimeout,
    StreamFold,
    finish,
    from_raw,
    parse_event,
    stream_request,
)
from agent.tools_json import request_body

MAX_HEAD = 64 * 1024  # a status line and headers longer than this are no HTTP reply we can use
_SSL: ssl.SSLContext | None = None


def usable(base_url: str) -> bool:
    """True when the lean client can reach `base_url` itself: http(s), and no proxy applies."""
    url = urlsplit(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        return False
    proxies = urllib.request.getproxies()
    return not (proxies.get(url.scheme) or proxies.get("all")) or bool(urllib.request.proxy_bypass(url.hostname))


class StatusError(Exception):
    """The endpoint answered with an error status (4xx/5xx)."""

    def __init__(self, status_code: int, headers: dict[str, str], raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text or None
        super().__init__(f"Error code: {status_code} - {body if body is not None else ''}")
        self.status_code, self.body, self.response = status_code, body, _Head(status_code, headers)


class StreamError(BadResponse):
    """An error event inside a 200 stream (the server gave up mid-reply); retried like the SDK's APIError."""

    def __init__(self, error: Any) -> None:
        message = error.get("message") if isinstance(error, dict) else None
        super().__init__(message or "An error occurred during streaming")
        self.body = error


class _Head:
    """What retry.py reads of a response: its status and (lower-cased) headers."""

    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code, self.headers = status_code, headers


class WireClient:
    """Keeps idle connections to one endpoint; any number of calls may run at once (one connection
    each). Close it on the loop that used it."""

    def __init__(self, base_url: str, api_key: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 timeout: float = 600.0, user_agent: str = "hermes") -> None:
        url = urlsplit(base_url)
        self.tls = url.scheme == "https"
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if self.tls else 80)
        self.connect_timeout, self.timeout = connect_timeout, timeout
        host_header = url.netloc.rsplit("@", 1)[-1]
        self._path = (url.path.rstrip("/") + "/chat/completions").encode()
        auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self._headers = (f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\n{auth}"
                         "Content-Type: application/json\r\nAccept-Encoding: identity\r\n").encode("latin-1")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()

    async def complete(self, params: dict[str, Any], *, stream: bool = True,
                       on_text: Callable[[str], None] | None = None,
                       on_reasoning: Callable[[str], None] | None = None,
                       stall_timeout: float = DEFAULT_STALL_TIMEOUT, deadline: float | None = None) -> Completion:
        """As `agent.llm.complete`; an interrupt is the caller cancelling this coroutine."""
        started = time.perf_counter()
        connect, read = self.connect_timeout, stall_timeout if stream else self.timeout
        if deadline is not None:
            deadline = max(deadline, 0.001)
            read, connect = min(read, deadline) if stream else deadline, min(connect, deadline)
        body = stream_request(params) if stream else dict(params)
        body.update(body.pop("extra_body", None) or {})
        data = request_body(body)
        request = (b"POST " + self._path + b" HTTP/1.1\r\n" + self._headers
                   + b"Accept: " + (b"text/event-stream" if stream else b"application/json")
                   + b"\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
        call = _Call(self, read)
        try:
            status, headers = await call.send(request, connect)
            if status >= 400:
                raise StatusError(status, headers, await call.body())
            content_type = headers.get("content-type", "")
            if not stream or "json" in content_type or "html" in content_type:
                result = from_raw(content_type, await call.body())
            else:
                fold = StreamFold(params, started, on_text, on_reasoning)
                done = await call.events(fold.feed)
                result = fold.finish(content_type, done)
            call.release()
        finally:
            call.discard()
        return finish(result, started)


class _Call:
    """One request/response on one connection: reads with the stall timeout, frames the body
    (Content-Length, chunked or until close) and gives the connection back only when it was read
    to its end."""

    def __init__(self, client: WireClient, read_timeout: float) -> None:
        self.client, self.read_timeout = client, read_timeout
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reader: asyncio.StreamReader
        self.length: int | None = None
        self.chunked = self.keep = False
        self.ended = False
        self.encoding = ""

    async def send(self, request: bytes, connect_timeout: float) -> tuple[int, dict[str, str]]:
        client = self.client
        # A pooled connection the server closed while it sat idle fails before any reply byte: that
        # request is sent again once, on a new connection (as httpx does).
        for reused in (True, False) if client._idle else (False,):
            self.conn = client._idle.pop() if reused else await self._connect(connect_timeout)
            self.reader = self.conn[0]
            try:
                self.conn[1].write(request)
                return await self._head()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.discard()
                if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise _dropped(exc) from None
        raise AssertionError("unreachable")

    async def _connect(self, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        client = self.client
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.open_connection(
                    client.host, client.port, ssl=_ssl_context() if client.tls else None,
                    server_hostname=client.host if client.tls else None, limit=MAX_HEAD)
        except TimeoutError:
            raise StallTimeout(f"could not connect within {timeout:g}s") from None

    async def _read(self, what: Coroutine[Any, Any, bytes]) -> bytes:
        try:
            async with asyncio.timeout(self.read_timeout):
                return await what
        except TimeoutError:
            raise StallTimeout(f"no data from the endpoint for {self.read_timeout:g}s (stall timeout)") from None
        except asyncio.LimitOverrunError:
            raise BadResponse("the endpoint's reply has a line longer than 64 KiB where HTTP headers were expected") from None

    async def _head(self) -> tuple[int, dict[str, str]]:
        head = await self._read(self.reader.readuntil(b"\r\n\r\n"))
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/") or not rest[:3].isdigit():
            raise BadResponse(f"the endpoint did not answer in HTTP: {status_line[:80]!r}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.encoding = headers.get("content-encoding", "").strip().lower()
        if not self.chunked and (length := headers.get("content-length", "")).isdigit():
            self.length = int(length)
        self.keep = (version != "HTTP/1.0" and headers.get("connection", "").lower() != "close"
                     and (self.chunked or self.length is not None))
        return int(rest[:3]), headers

    async def _pieces(self):
        """The body's bytes as they come: whatever has arrived is read at once (one read per network
        delivery, not one per chunk line), chunked framing undone on that buffer."""
        if not self.chunked:
            left = self.length
            while left is None or left > 0:
                piece = await self._read(self.reader.read(1 << 16 if left is None else min(left, 1 << 16)))
                if not piece:
                    if left is None:  # no length and no chunks: the body ends with the connection
                        break
                    raise asyncio.IncompleteReadError(b"", left)
                if left is not None:
                    left -= len(piece)
                yield piece
        else:
            buf = b""
            while True:
                line_end = buf.find(b"\r\n")
                if line_end < 0:
                    buf += await self._more()
                    continue
                size = int(buf[:line_end].split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:  # the last chunk, then trailers up to an empty line
                    rest = buf[line_end + 2:]
                    while not rest.startswith(b"\r\n") and b"\r\n\r\n" not in rest:
                        rest += await self._more()
                    break
                end = line_end + 2 + size + 2
                if len(buf) < end:
                    parts, have = [buf], len(buf)
                    while have < end:  # a big chunk: gather its pieces, join once
                        parts.append(await self._more())
                        have += len(parts[-1])
                    buf = b"".join(parts)
                yield buf[line_end + 2:end - 2]
                buf = buf[end:]
        self.ended = True

    async def _decoded(self):
        """The body as sent before compression. We ask for none (`Accept-Encoding: identity`), but
        some servers and proxies gzip anyway; gzip and zlib are undone, anything else is named."""
        if self.encoding in ("", "identity"):
            async for piece in self._pieces():
                yield piece
            return
        if self.encoding not in ("gzip", "x-gzip", "deflate"):
            raise BadResponse(f"the endpoint compressed its reply with {self.encoding!r}, which hermes cannot "
                              "read (it asked for none); check what sits between hermes and the endpoint")
        inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a gzip or a zlib header, either
        try:
            async for piece in self._pieces():
                if out := inflate.decompress(piece):
                    yield out
            if rest := inflate.flush():
                yield rest
        except zlib.error as exc:
            raise BadResponse(f"the endpoint's {self.encoding} reply does not decompress ({exc})") from None

    async def _more(self) -> bytes:
        piece = await self._read(self.reader.read(1 << 16))
        if not piece:
            raise asyncio.IncompleteReadError(b"", None)
        return piece

    async def body(self) -> bytes:
        try:
            return b"".join([piece async for piece in self._decoded()])
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise _dropped(exc) from None

    async def events(self, feed: Callable[[dict[str, Any]], None]) -> bool:
        """Server-sent events' data fed as chunks; True if `[DONE]` came (the rest of the body is
        still read, so the connection can be reused)."""
        done, carry, data = False, b"", []
        try:
            async for piece in self._decoded():
                lines = (carry + piece).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    if line.startswith(b"data:"):
                        data.append(line[6:] if line[5:6] == b" " else line[5:])
                    elif not line and data and not done:  # an event ends at a blank line
                        text, data = b"\n".join(data).decode(), []
                        if text.startswith("[DONE]"):
                            done = True
                        elif (chunk := parse_event(text)) is not None:
                            if chunk.get("error"):
                                raise StreamError(chunk["error"])
                            feed(chunk)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise _dropped(exc) from None
        except UnicodeDecodeError as exc:
            raise BadResponse(f"the reply is not valid UTF-8 (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r})") from None
        return done

    def release(self) -> None:
        """Back to the pool: the reply was read to its end and the server keeps the connection."""
        if self.conn is not None and self.keep and self.ended:
            self.client._idle.append(self.conn)
            self.conn = None

    def discard(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None


def _dropped(exc: BaseException) -> ConnectionError:
    return ConnectionResetError(f"the endpoint closed the connection mid-reply ({type(exc).__name__})")


def _ssl_context() -> ssl.SSLContext:
    """One default context for every connection: building one reads the CA bundle (~50 ms)."""
    global _SSL
    if _SSL is None:
        _SSL = ssl.create_default_context()
    return _SSL
