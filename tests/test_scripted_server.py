"""The scripted OpenAI-compatible server, exercised through the real openai SDK."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from scripted_server import Reply, ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what is 6*7?"}]
FAST_RETRY = {"retry-after-ms": "10"}  # keeps SDK retries from sleeping for a second


def client(llm: ScriptedLLM, **kwargs) -> OpenAI:
    kwargs.setdefault("max_retries", 0)
    return OpenAI(base_url=llm.base_url, api_key="test", **kwargs)


def chat(llm: ScriptedLLM, **kwargs):
    kwargs.setdefault("messages", MESSAGES)
    return client(llm).chat.completions.create(model="test-model", **kwargs)


def raw_request(llm: ScriptedLLM, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", llm.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_models_list() -> None:
    with ScriptedLLM(models=["a-model", "b-model"]) as llm:
        assert llm.base_url == f"http://127.0.0.1:{llm.port}/v1"
        models = client(llm).models.list()
        assert [m.id for m in models.data] == ["a-model", "b-model"]
        assert models.data[0].owned_by == "scripted"


def test_non_stream_text_and_usage() -> None:
    with ScriptedLLM([Reply(content="42")]) as llm:
        resp = chat(llm)
        choice = resp.choices[0]
        assert choice.message.content == "42"
        assert choice.message.role == "assistant"
        assert choice.finish_reason == "stop"
        assert resp.model == "test-model"
        assert resp.object == "chat.completion"
        assert resp.usage.prompt_tokens == len(json.dumps(MESSAGES)) // 4
        assert resp.usage.completion_tokens == 1
        assert resp.usage.total_tokens == resp.usage.prompt_tokens + 1


def test_requests_are_recorded_with_bodies() -> None:
    with ScriptedLLM([Reply(content="one"), Reply(content="two")]) as llm:
        chat(llm)
        client(llm).models.list()
        chat(llm, messages=[{"role": "user", "content": "again"}], temperature=0.5)
        assert [r.path for r in llm.requests] == [
            "/v1/chat/completions",
            "/v1/models",
            "/v1/chat/completions",
        ]
        assert [r.method for r in llm.requests] == ["POST", "GET", "POST"]
        first, second = llm.chat_requests
        assert first.body["messages"] == MESSAGES
        assert second.body["messages"] == [{"role": "user", "content": "again"}]
        assert second.body["temperature"] == 0.5
        assert first.headers["authorization"] == "Bearer test"
        assert first.time <= second.time


def test_stream_text_reassembles_exactly() -> None:
    text = "The answer, after careful thought, is forty-two. ünïcode ✓"
    with ScriptedLLM([Reply(content=text)]) as llm:
        chunks = list(chat(llm, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2
    assert "".join(pieces) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.model == "test-model" for c in chunks)


def test_stream_parallel_tool_calls() -> None:
    calls = [
        ToolCall("terminal", {"command": "echo 42 && ls -la /tmp", "timeout": 30}),
        ToolCall("read_file", {"path": "/etc/hostname", "offset": 0, "limit": 200}, id="call_custom"),
    ]
    with ScriptedLLM([Reply(tool_calls=calls)]) as llm:
        chunks = list(chat(llm, stream=True))
    assembled: dict[int, dict] = {}
    fragments = 0
    for chunk in chunks:
        for tc in chunk.choices[0].delta.tool_calls or []:
            slot = assembled.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                assert slot["id"] is None and tc.type == "function" and tc.function.arguments == ""
                slot["id"], slot["name"] = tc.id, tc.function.name
            else:
                assert tc.function.name is None
                fragments += 1
            slot["arguments"] += tc.function.arguments or ""
    assert sorted(assembled) == [0, 1]
    assert fragments > 2  # arguments really arrive in pieces
    assert assembled[0]["id"].startswith("call_") and assembled[1]["id"] == "call_custom"
    assert [assembled[i]["name"] for i in (0, 1)] == ["terminal", "read_file"]
    for i, call in enumerate(calls):
        assert json.loads(assembled[i]["arguments"]) == call.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_non_stream_tool_calls_and_verbatim_arguments() -> None:
    calls = [ToolCall("a", {"x": 1}), ToolCall("b", '{"broken": ')]
    with ScriptedLLM([Reply(tool_calls=calls), Reply(tool_calls=[ToolCall("c", {})])]) as llm:
        msg = chat(llm).choices[0].message
        again = chat(llm).choices[0].message
    assert msg.content is None
    assert [(t.function.name, t.function.arguments) for t in msg.tool_calls] == [
        ("a", '{"x": 1}'),
        ("b", '{"broken": '),
    ]
    ids = [t.id for t in msg.tool_calls] + [t.id for t in again.tool_calls]
    assert len(set(ids)) == 3 and all(i.startswith("call_") for i in ids)


def test_reasoning_stream_and_non_stream() -> None:
    reply = Reply(content="Final answer here.", reasoning="Let me think about this step by step.")
    with ScriptedLLM([reply, reply]) as llm:
        message = chat(llm).choices[0].message
        assert message.reasoning == reply.reasoning
        assert message.model_extra["reasoning"] == reply.reasoning
        chunks = list(chat(llm, stream=True))
    reasoning, content, order = "", "", []
    for chunk in chunks:
        delta = chunk.choices[0].delta
        if piece := (delta.model_extra or {}).get("reasoning"):
            reasoning += piece
            order.append("r")
        if delta.content:
            content += delta.content
            order.append("c")
    assert reasoning == reply.reasoning and content == reply.content
    assert order == sorted(order, reverse=True)  # all reasoning before any content
    assert order.count("r") >= 2


def test_stream_usage_with_include_usage() -> None:
    with ScriptedLLM(
        [
            Reply(content="hello there", usage=None),
            Reply(content="x", usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}),
            Reply(content="no usage"),
        ]
    ) as llm:
        chunks = list(chat(llm, stream=True, stream_options={"include_usage": True}))
        assert chunks[-1].choices == []
        assert chunks[-1].usage.completion_tokens == len("hello there") // 4
        assert all(c.usage is None for c in chunks[:-1])
        chunks = list(chat(llm, stream=True, stream_options={"include_usage": True}))
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.total_tokens) == (7, 10)
        chunks = list(chat(llm, stream=True))
        assert all(c.choices and c.usage is None for c in chunks)


def test_logprobs_non_stream_and_stream() -> None:
    text = "one two three four five"
    with ScriptedLLM([Reply(content=text)] * 3) as llm:
        lp = chat(llm, logprobs=True, top_logprobs=3).choices[0].logprobs.content
        assert "".join(e.token for e in lp) == text
        for i, entry in enumerate(lp):
            assert entry.logprob == pytest.approx(-0.1 * (i % 7) - 0.01)
            assert entry.bytes == list(entry.token.encode())
            assert len(entry.top_logprobs) == 3
            assert entry.top_logprobs[0].token == entry.token
            assert entry.top_logprobs[0].logprob == entry.logprob
        assert chat(llm, logprobs=True).choices[0].logprobs.content[0].top_logprobs == []

        streamed = []
        for chunk in chat(llm, stream=True, logprobs=True, top_logprobs=2):
            choice = chunk.choices[0]
            if choice.delta.content:
                tokens = [e.token for e in choice.logprobs.content]
                assert "".join(tokens) == choice.delta.content
                streamed.extend(choice.logprobs.content)
        assert [(e.token, e.logprob) for e in streamed] == [(e.token, e.logprob) for e in lp]


def test_return_token_ids_non_stream_and_stream() -> None:
    text = "token ids please, lots of them"
    with ScriptedLLM([Reply(content=text)] * 2) as llm:
        resp = chat(llm, extra_body={"return_token_ids": True})
        assert resp.prompt_token_ids == list(json.dumps(MESSAGES).encode())
        assert resp.choices[0].model_extra["token_ids"] == list(text.encode())

        chunks = list(chat(llm, stream=True, extra_body={"return_token_ids": True}))
        assert chunks[0].model_extra["prompt_token_ids"] == resp.prompt_token_ids
        ids = [t for c in chunks for t in c.choices[0].model_extra["token_ids"]]
        assert ids == list(text.encode())
        carrying = [c for c in chunks if c.choices[0].model_extra["token_ids"]]
        assert len(carrying) >= 2


def test_custom_token_ids_with_tool_calls() -> None:
    seen = []

    def tokenize(body: dict, text: str) -> tuple[list[int], list[int]]:
        seen.append(text)
        return [1, 2, 3], list(range(100, 100 + 17))

    reply = Reply(tool_calls=[ToolCall("terminal", {"command": "ls"})])
    with ScriptedLLM([reply, reply], token_ids=tokenize) as llm:
        resp = chat(llm, extra_body={"return_token_ids": True})
        chunks = list(chat(llm, stream=True, extra_body={"return_token_ids": True}))
    assert resp.prompt_token_ids == [1, 2, 3]
    assert resp.choices[0].token_ids == list(range(100, 117))
    assert [t for c in chunks for t in c.choices[0].token_ids] == list(range(100, 117))
    assert json.loads(seen[0]) == {"name": "terminal", "arguments": {"command": "ls"}}


def test_rate_limit_with_retry_after() -> None:
    with ScriptedLLM([Reply(status=429, headers={"Retry-After": "1"})]) as llm:
        with pytest.raises(openai.RateLimitError) as info:
            chat(llm)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.body["type"] == "rate_limit_error"


def test_custom_error_body() -> None:
    body = {
        "error": {"message": "context too long", "type": "invalid_request_error", "code": "context_length"}
    }
    with ScriptedLLM([Reply(status=400, error_body=body)]) as llm:
        with pytest.raises(openai.BadRequestError, match="context too long"):
            chat(llm, stream=True)


def test_server_error_then_success_is_retried() -> None:
    with ScriptedLLM([Reply(status=500, headers=FAST_RETRY), Reply(content="ok")]) as llm:
        resp = client(llm, max_retries=1).chat.completions.create(model="m", messages=MESSAGES)
        assert resp.choices[0].message.content == "ok"
        assert len(llm.chat_requests) == 2


def test_disconnect_before_response() -> None:
    with ScriptedLLM([Reply(disconnect="before"), Reply(content="recovered")]) as llm:
        with pytest.raises(openai.APIConnectionError):
            chat(llm)
        assert chat(llm).choices[0].message.content == "recovered"


def test_disconnect_during_stream_and_body() -> None:
    text = "this stream will be cut off before it finishes"
    with ScriptedLLM([Reply(content=text, disconnect="during")] * 2) as llm:
        got = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in chat(llm, stream=True):
                got.append(chunk.choices[0].delta.content or "")
        assert 0 < len("".join(got)) < len(text)
        with pytest.raises(openai.APIConnectionError):
            chat(llm)


def test_malformed_stream_chunk_and_body() -> None:
    text = "some text long enough to be split into chunks"
    with ScriptedLLM([Reply(content=text, malformed=True)] * 2) as llm:
        got = []
        with pytest.raises(ValueError):  # the SDK lets json.JSONDecodeError through
            for chunk in chat(llm, stream=True):
                got.append(chunk.choices[0].delta.content or "")
        assert got  # the failure happens mid-stream, not up front
        with pytest.raises(ValueError):
            chat(llm)


def test_delay_times_out_and_close_is_prompt() -> None:
    llm = ScriptedLLM([Reply(content="late", delay=5)]).start()
    try:
        with pytest.raises(openai.APITimeoutError):
            client(llm, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
    finally:
        start = time.monotonic()
        llm.close()
    assert time.monotonic() - start < 3  # not the reply's 5 s delay


def test_chunk_delay_allows_interrupting_a_stream() -> None:
    with ScriptedLLM([Reply(content="x" * 80, chunk_delay=0.2)]) as llm:
        start = time.monotonic()
        stream = chat(llm, stream=True)
        for i, _ in enumerate(stream):
            if i == 2:
                stream.close()
                break
        elapsed = time.monotonic() - start
    assert 0.3 < elapsed < 6  # three chunks' delays, not the whole 16 s stream


def test_chars_per_second_paces_a_stream_one_character_at_a_time() -> None:
    with ScriptedLLM([Reply(content="abcdefghijklmnopqrstuvwxyz", chars_per_second=100)]) as llm:
        start = time.monotonic()
        pieces = [c.choices[0].delta.content for c in chat(llm, stream=True) if c.choices and c.choices[0].delta.content]
        elapsed = time.monotonic() - start
    assert pieces == list("abcdefghijklmnopqrstuvwxyz")
    assert 0.2 < elapsed < 6  # 25 gaps of 10 ms


def test_exhausted_script_and_default() -> None:
    with ScriptedLLM([Reply(content="only")]) as llm:
        chat(llm)
        with pytest.raises(openai.InternalServerError) as info:
            chat(llm)
        assert "script exhausted after 1 replies" in info.value.message
        assert info.value.body["type"] == "server_error"
    with ScriptedLLM([], default=Reply(content="again")) as llm:
        assert [chat(llm).choices[0].message.content for _ in range(3)] == ["again"] * 3


def test_callable_responder_gets_call_index() -> None:
    calls = []

    def respond(body: dict, index: int) -> Reply:
        calls.append((body["messages"][-1]["content"], index))
        return Reply(content=f"reply {index}")

    with ScriptedLLM(respond) as llm:
        out = [
            chat(llm, messages=[{"role": "user", "content": f"q{i}"}]).choices[0].message.content
            for i in range(3)
        ]
    assert out == ["reply 0", "reply 1", "reply 2"]
    assert calls == [("q0", 0), ("q1", 1), ("q2", 2)]


def test_responder_exception_becomes_500_and_is_kept() -> None:
    def respond(body: dict, index: int) -> Reply:
        raise RuntimeError("responder bug")

    with ScriptedLLM(respond) as llm:
        with pytest.raises(openai.InternalServerError, match="responder bug"):
            chat(llm)
        assert [str(e) for e in llm.errors] == ["responder bug"]


def test_keep_alive_reuses_one_connection() -> None:
    with ScriptedLLM([], default=Reply(content="same connection please")) as llm:
        c = client(llm)
        for _ in range(10):
            c.chat.completions.create(model="m", messages=MESSAGES)
        assert llm.connections == 1
        # The sync SDK stops reading at [DONE] and so drops the connection after each stream.
        for _ in range(3):
            list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert llm.connections <= 4


def test_async_client_reuses_connection_across_streams() -> None:
    async def run(llm: ScriptedLLM) -> list[str]:
        async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as c:
            texts = []
            for _ in range(3):
                stream = await c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
                texts.append(
                    "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
                )
            return texts

    with ScriptedLLM([], default=Reply(content="streamed over one socket")) as llm:
        assert asyncio.run(run(llm)) == ["streamed over one socket"] * 3
        assert llm.connections == 1


def test_unknown_path_and_invalid_json() -> None:
    with ScriptedLLM([Reply(content="unused")]) as llm:
        status, body = raw_request(llm, "GET", "/v1/nope")
        assert status == 404 and "error" in body
        status, body = raw_request(llm, "POST", "/v1/chat/completions", b"{not json")
        assert status == 400 and "error" in body
        assert llm.chat_requests[-1].body is None
        assert chat(llm).choices[0].message.content == "unused"  # bad requests consume nothing


def test_reply_from_dict() -> None:
    reply = Reply.from_dict(
        {"content": "hi", "tool_calls": [{"name": "t", "arguments": {"a": 1}}], "status": 200}
    )
    assert reply.tool_calls == [ToolCall("t", {"a": 1})]
    with pytest.raises(ValueError):
        Reply(disconnect="sometimes")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_cli_echo_serves_until_signalled(stop: signal.Signals, tmp_path: Path) -> None:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "scripted first"}]), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripted_server", "--port", "0", "--script", str(script), "--echo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        c = OpenAI(base_url=url, api_key="test", max_retries=0)
        first = c.chat.completions.create(model="m", messages=MESSAGES)
        second = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "echo me"}])
        assert first.choices[0].message.content == "scripted first"
        assert second.choices[0].message.content == "echo me"
        proc.send_signal(stop)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
