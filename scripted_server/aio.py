"""An asyncio twin of the scripted server for load benchmarks: one event loop, no thread per connection.

The threaded `ScriptedLLM` spends ~2.8 ms of CPU per request with 1,000 slow connections open (a
thread each, GIL hand-offs): 500 requests/s would need 1.4 cores of the 2 on this machine, so the
batch-scaling benchmark (issue 19) measured the stand-in, not hermes. This server answers the same
way (the same `Rendering`: identical JSON and SSE bytes for the replies it supports) but only
plain replies: content or tool calls after `delay` seconds, streamed or not. Faults, strict mode,
recording and token-id hooks stay with `ScriptedLLM`, which the tests use.

    python -m scripted_server --asyncio --tool-turns 4 --latency 2
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable

from .replies import Rendering, Reply, error_payload

Responder = Callable[[dict, int], Reply]


class AsyncScriptedLLM:
    def __init__(self, respond: Responder, *, models: list[str] | None = None) -> None:
        self.respond = respond
        self.models = list(models) if models else ["scripted-model"]
        self._index = itertools.count()
        self._call_ids = itertools.count(1)

    async def serve(self, host: str, port: int, on_ready: Callable[[str], None]) -> None:
        server = await asyncio.start_server(self._connection, host, port, backlog=4096, limit=1 << 24)
        bound = server.sockets[0].getsockname()
        on_ready(f"http://{bound[0]}:{bound[1]}/v1")
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # HTTP/1.1 keep-alive: one request after another on this connection
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                await self._dispatch(method, path.split("?", 1)[0], body, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _dispatch(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter) -> None:
        if method == "GET" and path.endswith("/models"):
            data = {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "scripted"} for m in self.models]}
            await _send(writer, 200, json.dumps(data).encode())
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            await _send(writer, 404, json.dumps(error_payload(404, f"no route {method} {path}")).encode())
            return
        body = json.loads(raw or b"{}")
        index = next(self._index)
        reply = self.respond(body, index)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        rendering = Rendering(reply=reply, body=body, completion_id=f"chatcmpl-scripted-{index}",
                              created=int(time.time()), model=str(body.get("model") or self.models[0]),
                              call_ids=[c.id or f"call_{next(self._call_ids)}" for c in reply.tool_calls])
        if not body.get("stream"):
            await _send(writer, 200, json.dumps(rendering.completion()).encode())
            return
        events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in rendering.chunks()]
        events.append(b"data: [DONE]\n\n")
        out = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"]
        out += [b"%x\r\n%s\r\n" % (len(data), data) for data in events]
        out.append(b"0\r\n\r\n")
        writer.write(b"".join(out))
        await writer.drain()


async def _send(writer: asyncio.StreamWriter, status: int, data: bytes) -> None:
    reason = {200: "OK", 404: "Not Found"}.get(status, "Error")
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (status, reason.encode(), len(data), data))
    await writer.drain()


def serve_forever(respond: Responder, host: str, port: int, models: list[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; prints the base URL first (as `python -m scripted_server` does)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(AsyncScriptedLLM(respond, models=models).serve(
            host, port, lambda url: print(url, flush=True)))
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
