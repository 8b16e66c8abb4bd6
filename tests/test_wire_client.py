"""The lean asyncio client (agent/wire.py) judges every reply as the SDK path does.

The endpoint-fault tests of tests/test_endpoint_faults.py run again here with their `call` going
through `WireClient` (same scripted server, same assertions); then what is the wire's own: errors
shaped for the retry policy, keep-alive, a connection the server dropped while idle, TLS, cancel.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import threading
import time

import pytest

import tests.test_endpoint_faults as faults
from agent import llm, wire
from agent.retry import describe_error, is_retryable, retry_after_seconds, unreachable
from scripted_server import Reply, ScriptedLLM
from tests.test_endpoint_faults import (  # noqa: F401 - collected again, on the wire client
    test_arguments_sent_as_an_object_are_encoded,
    test_done_without_finish_reason_and_finish_reason_without_done_are_answers,
    test_duplicate_call_ids_are_made_unique,
    test_emoji_split_into_surrogate_halves_across_chunks_is_joined,
    test_error_object_in_a_200_is_an_error_with_its_message,
    test_garbage_chunks_are_retryable_errors,
    test_html_page_is_a_retryable_error_naming_it,
    test_json_document_that_is_no_completion_is_an_error,
    test_multibyte_characters_split_across_network_chunks,
    test_slow_but_steady_stream_is_not_a_stall,
    test_stall_fails_the_attempt_after_the_stall_timeout,
    test_stream_cut_without_finish_reason_or_done_is_an_error,
    test_stream_with_no_events_or_no_choices_is_an_error,
    test_tool_calls_without_ids_get_one_generated_id_each,
    test_undecodable_bytes_in_a_stream_are_a_retryable_error,
    test_whole_completion_sent_to_a_streaming_request_is_the_answer,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def wire_call(server: ScriptedLLM, stream: bool = True, **kwargs) -> llm.Completion:
    return wire_call_params(server, {"model": "m", "messages": MESSAGES}, stream=stream, **kwargs)


def wire_call_params(server: ScriptedLLM, params: dict, **kwargs) -> llm.Completion:
    """One call through a fresh WireClient, as `faults.call` makes one through the SDK."""
    async def go() -> llm.Completion:
        client = wire.WireClient(server.base_url, "sk-test")
        try:
            return await client.complete(params, **kwargs)
        finally:
            await client.close()

    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _through_the_wire(monkeypatch):
    monkeypatch.setattr(faults, "call", wire_call)


def run(coro):
    return asyncio.run(coro)


def test_the_request_is_what_the_sdk_would_send(scripted_llm):
    server = scripted_llm([Reply(content="streamed words", usage={"prompt_tokens": 5, "completion_tokens": 2,
                                                                  "total_tokens": 7})])
    params = {"model": "m", "messages": MESSAGES, "temperature": 0.5, "extra_body": {"top_k": 4}}
    result = wire_call_params(server, params)
    assert result.content == "streamed words" and result.usage["total_tokens"] == 7
    request = server.chat_requests[0]
    assert request.body == {"model": "m", "messages": MESSAGES, "temperature": 0.5, "top_k": 4, "stream": True,
                            "stream_options": {"include_usage": True}}
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"] == "application/json"


def test_calls_reuse_one_connection_streamed_or_not(scripted_llm):
    server = scripted_llm([Reply(content="one"), Reply(content="two"), Reply(content="three", non_streamed=True),
                           Reply(content="four")])

    async def go() -> list[str]:
        client = wire.WireClient(server.base_url, "k")
        out = [(await client.complete({"model": "m", "messages": MESSAGES})).content for _ in range(2)]
        out.append((await client.complete({"model": "m", "messages": MESSAGES}, stream=False)).content)
        out.append((await client.complete({"model": "m", "messages": MESSAGES})).content)
        await client.close()
        return out

    assert run(go()) == ["one", "two", "three", "four"]
    assert server.connections == 1


def test_error_status_reads_like_the_sdks_for_the_retry_policy(scripted_llm):
    server = scripted_llm([Reply(status=429, headers={"Retry-After": "7"}), Reply(status=401), Reply(status=503)])
    errors = []
    for _ in range(3):
        with pytest.raises(wire.StatusError) as info:
            wire_call(server)
        errors.append(info.value)
    limited, refused, unavailable = errors
    assert limited.status_code == 429 and is_retryable(limited) and retry_after_seconds(limited) == 7
    assert refused.status_code == 401 and not is_retryable(refused)
    assert describe_error(refused).startswith("HTTP 401: ")
    assert unavailable.status_code == 503 and is_retryable(unavailable)


def test_an_error_event_inside_the_stream_is_retried_with_its_message(scripted_llm):
    server = scripted_llm([Reply(content="partial answer that never ends",
                                 stream_error={"message": "upstream provider overloaded", "code": 502})])
    pieces: list[str] = []
    with pytest.raises(wire.StreamError) as info:
        wire_call(server, on_text=pieces.append)
    assert is_retryable(info.value) and describe_error(info.value) == "upstream provider overloaded"
    assert pieces  # the chunk before the error was delivered first


def test_refused_connection_is_unreachable_not_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = type("S", (), {"base_url": f"http://127.0.0.1:{port}/v1"})()
    with pytest.raises(ConnectionRefusedError) as info:
        wire_call(server)
    assert unreachable(info.value) == "refused" and not is_retryable(info.value)


def raw_server(handle) -> tuple[socket.socket, str]:
    """A loopback server whose connections `handle(conn, index)` serves by hand, in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        index = 0
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            handle(conn, index)
            index += 1

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def whole_reply(text: str) -> bytes:
    body = json.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_a_connection_the_server_closed_while_idle_is_replaced_once():
    requests: list[bytes] = []

    def handle(conn: socket.socket, index: int) -> None:
        requests.append(conn.recv(65536))
        conn.sendall(whole_reply(f"reply {index}"))
        conn.close()  # an idle timeout of zero: the kept-alive connection is gone before the next call

    listener, url = raw_server(handle)
    server = type("S", (), {"base_url": url})()

    async def go() -> list[str]:
        client = wire.WireClient(server.base_url, "k")
        first = await client.complete({"model": "m", "messages": MESSAGES}, stream=False)
        assert len(client._idle) == 1
        await asyncio.sleep(0.2)
        second = await client.complete({"model": "m", "messages": MESSAGES}, stream=False)
        await client.close()
        return [first.content, second.content]

    try:
        assert run(go()) == ["reply 0", "reply 1"]
        assert len(requests) == 2  # sent once on the dead connection (nothing read), once anew
    finally:
        listener.close()


def test_server_closing_mid_reply_is_a_retryable_dropped_connection():
    # A raw server that sends half a chunked body, then closes.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"40\r\ndata: {\"choices\"")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    server = type("S", (), {"base_url": f"http://127.0.0.1:{listener.getsockname()[1]}/v1"})()
    with pytest.raises(ConnectionError) as info:
        wire_call(server)
    listener.close()
    assert is_retryable(info.value) and "closed the connection mid-reply" in str(info.value)


def test_cancelling_a_call_closes_its_connection_at_once(scripted_llm):
    server = scripted_llm([Reply(content="late", delay=30)])

    async def go() -> float:
        client = wire.WireClient(server.base_url, "k")
        task = asyncio.ensure_future(client.complete({"model": "m", "messages": MESSAGES}))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client._idle == []  # a half-read connection never goes back to the pool
        await client.close()
        return time.monotonic() - started

    assert run(go()) < 0.5


def test_tls_endpoint_with_a_trusted_certificate(tmp_path, monkeypatch):
    # A loopback TLS terminator in front of the scripted server; its self-signed certificate is made
    # trusted the way a user would (SSL_CERT_FILE), so the default context verifies it.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setattr(wire, "_SSL", None)
    backend = ScriptedLLM([Reply(content="over tls")])
    backend.start()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def terminate() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls, socket.create_connection(
                ("127.0.0.1", int(backend.base_url.split(":")[2].split("/")[0]))) as plain:
            request = tls.recv(65536)
            while b"\r\n\r\n" not in request or len(request.split(b"\r\n\r\n", 1)[1]) < int(
                    request.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
                request += tls.recv(65536)
            plain.sendall(request)
            plain.settimeout(5)
            reply = b""
            while not reply.endswith(b"0\r\n\r\n"):
                reply += plain.recv(65536)
            tls.sendall(reply)

    threading.Thread(target=terminate, daemon=True).start()
    try:
        server = type("S", (), {"base_url": f"https://localhost:{listener.getsockname()[1]}/v1"})()
        assert wire_call(server).content == "over tls"
        assert backend.chat_requests[0].headers["host"] == f"localhost:{listener.getsockname()[1]}"
    finally:
        listener.close()
        backend.close()


def test_usable_only_where_no_proxy_applies(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert wire.usable("http://127.0.0.1:8000/v1") and wire.usable("https://openrouter.ai/api/v1")
    assert not wire.usable("unix:///tmp/sock")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert not wire.usable("https://openrouter.ai/api/v1")
    assert wire.usable("http://127.0.0.1:8000/v1")  # only https goes through that proxy
    monkeypatch.setenv("NO_PROXY", "openrouter.ai")
    assert wire.usable("https://openrouter.ai/api/v1")


def test_large_streamed_arguments_arrive_whole(scripted_llm):
    # A tool call of ~2 MB in chunks bigger than one network read: gathered, joined once.
    big = "x" * 2_000_000
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {
        "name": "write_file", "arguments": json.dumps({"content": big})}}]}, "finish_reason": "tool_calls"}]}
    server = scripted_llm([Reply(body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n",
                                 content_type="text/event-stream")])
    started = time.monotonic()
    result = wire_call(server)
    assert json.loads(result.tool_calls[0]["function"]["arguments"])["content"] == big
    assert time.monotonic() - started < 5


def test_a_compressed_reply_is_read_or_named():
    # Asked for none, some servers and proxies gzip anyway: gzip is undone (streamed, in pieces that
    # cut the compressed bytes anywhere); an encoding hermes cannot read is one clear error.
    import gzip

    events = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': w}}]})}\n\n"
                     for w in ("packed ", "and ", "streamed"))
    events += 'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    packed = gzip.compress(events.encode())
    seen: list[bytes] = []

    def handle(conn: socket.socket, index: int) -> None:
        seen.append(conn.recv(65536))
        if index == 0:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            pieces = [packed[i:i + 7] for i in range(0, len(packed), 7)]
            conn.sendall(head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: br\r\n"
                         b"Content-Length: 4\r\n\r\nxxxx")
        conn.close()

    listener, url = raw_server(handle)
    server = type("S", (), {"base_url": url})()
    try:
        assert wire_call(server).content == "packed and streamed"
        with pytest.raises(llm.BadResponse) as info:
            wire_call(server, stream=False)
        assert "compressed its reply with 'br'" in str(info.value) and is_retryable(info.value)
        assert all(b"Accept-Encoding: identity" in request for request in seen)
    finally:
        listener.close()
