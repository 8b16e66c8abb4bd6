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


def test_non_streamed_post_returns_the_sdks_typed_completion(scripted_llm):
    from openai.types.chat import ChatCompletion

    server = scripted_llm([Reply(content="whole")])

    response = llm_mod._post(client_for(server), {"model": "m", "messages": MESSAGES}, stream=False)

    assert isinstance(response, ChatCompletion) and response.choices[0].message.content == "whole"
