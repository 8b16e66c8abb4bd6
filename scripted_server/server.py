"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 with recording and fault injection."""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .replies import LogprobTokens, Rendering, Reply, TokenIds, error_payload
from .strict import check_request

Responder = Callable[[dict, int], Reply]
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"


@dataclass
class RecordedRequest:
    """One HTTP request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    time: float


# What text-only models answer to an image part, per server (HTTP 400 each).
TEXT_ONLY_VLLM = "Qwen2ForCausalLM is not a multimodal model"
TEXT_ONLY_LLAMACPP = "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
TEXT_ONLY_OPENAI = "Invalid content type. image_url is only supported by certain models."


def _has_image(body: dict) -> bool:
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "image_url" for p in content):
            return True
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once (1,000 slow samples)

    def __init__(self, addr: tuple[str, int], owner: ScriptedLLM) -> None:
        self.owner = owner
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._track(request, True)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.owner._track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients vanishing mid-response is routine here (faults, timeouts, close())


class _Disconnect(Exception):
    """Raised inside a handler to drop the connection without a further response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so an agent loop reuses one connection
    disable_nagle_algorithm = True  # headers and body go out in separate sends; don't wait on ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ---------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None,
                    content_type: str = "application/json", stall: float = 0.0) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if stall:
            self.wfile.flush()
            self._sleep(stall)
        self.wfile.write(data)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.server.owner._stopping.wait(seconds):
            raise _Disconnect  # server is closing: don't answer a client that has likely gone

    # -- routing ----------------------------------------------------------

    def _dispatch(self) -> None:
        owner = self.server.owner
        try:
            raw = self._read_body()
            body: Any = None
            bad_json = False
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    bad_json = True
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            owner._record(
                RecordedRequest(
                    self.command, path, headers, body if isinstance(body, dict) else None, time.time()
                )
            )
            if path == MODELS_PATH and self.command == "GET":
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in owner.models
                ]
                self._send_json(200, {"object": "list", "data": data})
            elif path == CHAT_PATH and self.command == "POST":
                if bad_json or not isinstance(body, dict):
                    self._send_json(
                        400, error_payload(400, "scripted server: request body is not a JSON object")
                    )
                else:
                    self._chat(body)
            else:
                self._send_json(
                    404, error_payload(404, f"scripted server: no route for {self.command} {path}")
                )
        except _Disconnect:
            self.close_connection = True
        except OSError:
            self.close_connection = True  # the client went away; nothing to tell it
        except Exception as exc:  # a bug in a responder or here: tell the client, keep it for the test
            owner.errors.append(exc)
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            try:
                self._send_json(500, error_payload(500, f"scripted server: {type(exc).__name__}: {exc}"))
            except OSError:
                pass

    def _chat(self, body: dict) -> None:
        owner = self.server.owner
        if owner.strict and (rejection := check_request(body)) is not None:
            owner.rejections.append(rejection["error"]["message"])
            self._send_json(400, rejection)
            return
        if owner.reject_images is not None and _has_image(body):
            owner.rejections.append(owner.reject_images)
            self._send_json(400, error_payload(400, owner.reject_images))
            return
        reply, index = owner._next_reply(body)
        if reply is None:
            msg = f"scripted server: script exhausted after {index} replies"
            self._send_json(500, error_payload(500, msg))
            return
        self._sleep(reply.delay)
        if reply.disconnect == "before":
            raise _Disconnect
        if reply.body is not None:  # an HTML page, a JSON document that is no completion, ...
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            self._send_bytes(reply.status, data, reply.headers, reply.content_type, reply.stall)
            return
        if reply.status != 200:
            self._send_json(reply.status, reply.error_body or error_payload(reply.status), reply.headers)
            return
        rendering = Rendering(
            reply=reply,
            body=body,
            completion_id=f"chatcmpl-scripted-{index}",
            created=int(time.time()),
            model=str(body.get("model") or owner.models[0]),
            call_ids=[c.id or owner._new_call_id() for c in reply.tool_calls],
            token_ids=owner.token_ids,
            logprob_tokens=owner.logprob_tokens,
            flavour=owner.flavour,
        )
        if body.get("stream") and not reply.non_streamed:
            self._stream(rendering)
        else:
            self._complete(rendering)

    def _complete(self, rendering: Rendering) -> None:
        reply = rendering.reply
        data = json.dumps(rendering.completion()).encode()
        if reply.malformed:
            data = data[: max(1, len(data) // 2)]  # a 200 whose body is not valid JSON
            self._send_bytes(200, data, reply.headers)
            return
        if reply.disconnect == "during":
            # Promise the whole body, deliver half, hang up.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            raise _Disconnect
        self._send_bytes(200, data, reply.headers, stall=reply.stall)

    def _stream(self, rendering: Rendering) -> None:
        # Chunked encoding: a clean end is the zero-length chunk, so hanging up early is a
        # detectable error for httpx rather than a silently short stream.
        reply = rendering.reply
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in rendering.chunks()]  # fail before headers
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if reply.malformed:
            events.insert(max(1, len(events) // 2), 'data: {"id": "broken", "choices": [\n\n')
        if reply.disconnect == "during":
            events = events[: min(2, len(events))]
        elif reply.stream_error is not None:
            events = [*events[: max(1, len(events) // 2)], f"data: {json.dumps({'error': reply.stream_error})}\n\n"]
        elif reply.cut_after is not None:
            events = events[: reply.cut_after]  # a clean end of body, but no finish_reason and no [DONE]
        else:
            events.append("data: [DONE]\n\n")
        if reply.split_bytes:  # re-cut the byte stream, splitting multi-byte characters between writes
            joined = "".join(events).encode()
            pieces = [joined[i : i + reply.split_bytes] for i in range(0, len(joined), reply.split_bytes)]
        else:
            pieces = [event.encode() for event in events]
        pace = (reply.chunk_chars or 1) / reply.chars_per_second if reply.chars_per_second else 0.0
        self.wfile.flush()
        for i, data in enumerate(pieces):
            if i == reply.stall_after and reply.stall:
                self.wfile.flush()
                self._sleep(reply.stall)
            if i:
                self._sleep(reply.chunk_delay or pace)
            # The terminator rides with [DONE] so a client that drains after [DONE] (the async
            # SDK does; the sync one just closes) finds the body end at once and keeps the socket.
            end = b"0\r\n\r\n" if i == len(pieces) - 1 and reply.disconnect is None else b""
            self.wfile.write(b"%x\r\n%s\r\n%s" % (len(data), data, end))
            if self.server.owner.stream_log is not None:  # benchmarks: when each piece went out
                self.server.owner.stream_log.append((time.monotonic(), data))
            if reply.split_bytes:
                self.wfile.flush()
        if not pieces and reply.disconnect is None:
            self.wfile.write(b"0\r\n\r\n")
        if reply.disconnect == "during":
            raise _Disconnect


class ScriptedLLM:
    """An OpenAI-compatible server answering chat completions from a script.

    ``replies`` is a list consumed one entry per chat request (faults included), or a
    callable ``(request_body, call_index) -> Reply``. An exhausted list yields ``default``
    or an HTTP 500.

    ``token_ids(body, text) -> (prompt_ids, completion_ids)`` and ``logprob_tokens(body, text) ->
    [(token, logprob)]`` let a test tokenizer decide ids and logprobs (``text`` is the reply's
    ``raw_text`` when set); by default ids are UTF-8 bytes and logprobs cover 4-char tokens.
    """

    def __init__(
        self,
        replies: list[Reply] | Responder | None = None,
        *,
        models: list[str] | None = None,
        port: int = 0,
        token_ids: TokenIds | None = None,
        logprob_tokens: LogprobTokens | None = None,
        default: Reply | None = None,
        host: str = "127.0.0.1",
        strict: bool = False,
        flavour: str = "vllm",
        reject_images: str | None = None,
    ) -> None:
        self.replies = replies if replies is not None else []
        self.models = list(models) if models else ["scripted-model"]
        self.port = port
        self.host = host
        self.token_ids = token_ids
        self.logprob_tokens = logprob_tokens
        self.flavour = flavour  # whose response shapes to mimic for token data: "vllm", "sglang", "llamacpp", "llama-cpp-python"
        self.default = default
        # strict: refuse malformed histories with OpenAI's 400s (see strict.py); refusals consume
        # no script entry and their messages are kept in `rejections`.
        self.strict = strict
        # reject_images: a text-only model. A request with an image part gets HTTP 400 with this
        # message (TEXT_ONLY_* below are what vLLM, llama.cpp and OpenAI say); consumes no script entry.
        self.reject_images = reject_images
        self.rejections: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []  # exceptions raised while answering (e.g. by a responder)
        self.connections = 0  # TCP connections accepted; lets benchmarks check keep-alive
        self.stream_log: list[tuple[float, bytes]] | None = None  # set to [] to log (monotonic time, piece)
        self._lock = threading.Lock()
        self._calls = 0
        self._call_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == CHAT_PATH]

    @property
    def calls(self) -> int:
        """How many chat-completions requests reached the script."""
        return self._calls

    def start(self) -> ScriptedLLM:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay / chunk_delay
        server.shutdown()
        server.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        # Idle keep-alive handlers block in recv; shutting their sockets ends them now.
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler ---------------------------------------------

    def _track(self, sock: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self.connections += 1
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _new_call_id(self) -> str:
        with self._lock:
            return f"call_{next(self._call_ids)}"

    def _next_reply(self, body: dict) -> tuple[Reply | None, int]:
        """The reply for this request and its call index (or the count consumed, if exhausted)."""
        with self._lock:
            index = self._calls
            self._calls += 1
        if callable(self.replies):
            return self.replies(body, index), index
        if index < len(self.replies):
            return self.replies[index], index
        if self.default is not None:
            return self.default, index
        return None, len(self.replies)
