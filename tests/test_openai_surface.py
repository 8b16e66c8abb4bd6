"""The openai SDK internals agent/llm.py relies on, against the real SDK and our scripted server.

agent/llm.py subclasses `openai.Stream` (its `__stream__`, `_iter_events`, `response`) and calls
`client.post(..., stream_cls=...)` directly, neither of which is public API. pyproject.toml bounds
openai below the next major; these tests are what makes a breaking release within it fail here,
not for a user: streamed chunks parsed by our Stream subclass, an error event inside a stream, and
one pooled connection across calls.
"""

from __future__ import annotations

import openai
import pytest

from agent import llm as llm_mod
from scripted_server import Reply, ToolCall

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(server):
    return llm_mod.make_client(server.base_url, "sk-test-0123456789", timeout=20)


def test_our_stream_subclass_yields_the_servers_chunks_as_dicts(scripted_llm):
    server = scripted_llm([Reply(content="streamed words here")])

    stream = llm_mod._post(client_for(server), {"model": "m", "messages": MESSAGES, "stream": True}, stream=True)

    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert chunks and all(isinstance(chunk, dict) for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == "streamed words here"


def test_streamed_text_tool_calls_and_usage_are_folded(scripted_llm):
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    server = scripted_llm([Reply(content="let me look", usage=usage,
                                 tool_calls=[ToolCall("terminal", {"command": "ls -la"}, id="call_1")])])
    pieces = []

    result = llm_mod.complete(client_for(server), {"model": "m", "messages": MESSAGES}, on_text=pieces.append)

    assert "".join(pieces) == result.content == "let me look"
    assert result.tool_calls == [{"id": "call_1", "type": "function",
                                  "function": {"name": "terminal", "arguments": '{"command": "ls -la"}'}}]
    assert result.finish_reason == "tool_calls"
    assert result.usage == usage
    assert server.chat_requests[0].body["stream"] is True


def test_an_error_event_inside_the_stream_raises_the_sdks_api_error(scripted_llm):
    server = scripted_llm([Reply(content="partial answer that never ends",
                                 stream_error={"message": "upstream provider overloaded", "code": 502})])
    pieces = []

    with pytest.raises(openai.APIError) as err:
        llm_mod.complete(client_for(server), {"model": "m", "messages": MESSAGES}, on_text=pieces.append)

    assert err.value.message == "upstream provider overloaded"
    assert err.value.body == {"message": "upstream provider overloaded", "code": 502}
    assert pieces  # the chunk before the error was delivered first


def test_calls_reuse_one_connection(scripted_llm):
    server = scripted_llm([Reply(content="one"), Reply(content="two"), Reply(content="three"), Reply(content="four")])
    client = client_for(server)

    streamed = [llm_mod.complete(client, {"model": "m", "messages": MESSAGES}).content for _ in range(3)]
    whole = llm_mod.complete(client, {"model": "m", "messages": MESSAGES}, stream=False)

    assert streamed == ["one", "two", "three"] and whole.content == "four"
    assert server.connections == 1  # the stream is read to its end, so httpx pools the socket


def test_non_streamed_post_returns_the_raw_http_response(scripted_llm):
    # cast_to=<httpx>.Response makes the SDK hand back the response unparsed: llm._from_body reads it
    # as plain JSON and can tell garbage (an HTML page, a non-completion document) from an answer.
    server = scripted_llm([Reply(content="whole")])
    client = client_for(server)

    response = llm_mod._post(client, {"model": "m", "messages": MESSAGES}, stream=False)

    assert isinstance(response, llm_mod._http(client).Response)
    assert response.json()["choices"][0]["message"]["content"] == "whole"


def test_the_client_exposes_its_http_client_and_timeout(scripted_llm):
    # llm._timeouts builds per-call timeouts from `client.timeout` and the HTTP library behind
    # `client._client` (httpx today); a rename inside the SDK must fail here.
    client = llm_mod.make_client("http://127.0.0.1:9/v1", "sk-test-0123456789", timeout=20, connect_timeout=3)
    http = llm_mod._http(client)

    assert isinstance(client._client, http.Client)
    assert isinstance(client.timeout, http.Timeout) and client.timeout.connect == 3


def test_a_per_call_timeout_option_bounds_the_wait_and_keeps_the_http_cause(scripted_llm):
    # complete() passes options={"timeout": ...} per call (the stall timeout) and recognises the
    # timeout by the HTTP library's exception kept as __cause__ of the SDK's APITimeoutError.
    server = scripted_llm([Reply(content="late", stall=5)])
    client = client_for(server)
    http = llm_mod._http(client)

    with pytest.raises(openai.APITimeoutError) as err:
        llm_mod._post(client, {"model": "m", "messages": MESSAGES}, stream=False,
                      timeout=http.Timeout(20, read=0.3))

    assert isinstance(err.value.__cause__, http.TimeoutException)
