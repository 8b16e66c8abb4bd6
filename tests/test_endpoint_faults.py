"""A reply is an answer only if it is one; waiting is bounded. Scripted-server faults, the real SDK."""

from __future__ import annotations

import json
import time

import pytest

from agent import llm
from agent.retry import RetryPolicy, describe_error, is_retryable
from run_agent import AIAgent
from scripted_server import Reply, ScriptedLLM, ToolCall
from tests.conftest import read_jsonl, run_hermes

MESSAGES = [{"role": "user", "content": "hi"}]
HTML = "<!doctype html><html><head><title>Welcome to nginx!</title></head><body>It works</body></html>"


def call(server: ScriptedLLM, stream: bool = True, **kwargs) -> llm.Completion:
    client = llm.make_client(server.base_url, "sk-test")
    return llm.complete(client, {"model": "m", "messages": MESSAGES}, stream=stream, **kwargs)


def failure(server: ScriptedLLM, stream: bool = True, **kwargs) -> str:
    with pytest.raises(Exception) as info:
        call(server, stream, **kwargs)
    assert is_retryable(info.value), info.value
    return describe_error(info.value)


def flags(server: ScriptedLLM) -> list[str]:
    return ["--base-url", server.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


@pytest.mark.parametrize("stream", [True, False])
def test_html_page_is_a_retryable_error_naming_it(scripted_llm, stream):
    server = scripted_llm([Reply(body=HTML)])
    message = failure(server, stream)
    assert "HTML page titled 'Welcome to nginx!'" in message and "--base-url" in message


@pytest.mark.parametrize("stream", [True, False])
def test_json_document_that_is_no_completion_is_an_error(scripted_llm, stream):
    server = scripted_llm([Reply(body='{"status": "ok", "version": "1.2"}', content_type="application/json")])
    assert "JSON document that is not a chat completion" in failure(server, stream)


def test_error_object_in_a_200_is_an_error_with_its_message(scripted_llm):
    body = json.dumps({"error": {"message": "upstream overloaded", "type": "server_error"}})
    server = scripted_llm([Reply(body=body, content_type="application/json")])
    assert "upstream overloaded" in failure(server)


def test_whole_completion_sent_to_a_streaming_request_is_the_answer(scripted_llm):
    server = scripted_llm([Reply(content="forty-two", non_streamed=True),
                           Reply(tool_calls=[ToolCall("terminal", {"command": "ls"})], non_streamed=True)])
    first = call(server)
    assert first.content == "forty-two" and first.finish_reason == "stop"
    second = call(server)
    assert second.tool_calls[0]["function"] == {"name": "terminal", "arguments": '{"command": "ls"}'}
    assert server.chat_requests[0].body["stream"] is True


def test_stream_cut_without_finish_reason_or_done_is_an_error(scripted_llm):
    server = scripted_llm([Reply(content="half an answer " * 4, cut_after=3)])
    message = failure(server)
    assert "stream ended before the reply was complete" in message and "16 characters received" in message


def test_stream_with_no_events_or_no_choices_is_an_error(scripted_llm):
    server = scripted_llm([Reply(body="", content_type="text/event-stream"),
                           Reply(body='data: {"id": "x", "choices": []}\n\ndata: [DONE]\n\n',
                                 content_type="text/event-stream")])
    assert "200 with no events" in failure(server)
    assert "1 chunks without a choice" in failure(server)


def test_done_without_finish_reason_and_finish_reason_without_done_are_answers(scripted_llm):
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "ok"}}]}
    server = scripted_llm([
        Reply(body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n", content_type="text/event-stream"),
        Reply(content="fine", cut_after=4),  # role, content, finish_reason: no usage, no [DONE]
    ])
    assert call(server).content == "ok"
    assert call(server).content == "fine"


@pytest.mark.parametrize("event", ['[1, 2]', '{"choices": "abc"}', '{"choices": [{"delta": {"content": 7}}]}',
                                   '{"choices": [{"delta": {"tool_calls": ["x"]}}]}', "[" * 100_000,
                                   '{"usage": {"n": ' + "9" * 5000 + "}}"])
def test_garbage_chunks_are_retryable_errors(scripted_llm, event):
    server = scripted_llm([Reply(body=f"data: {event}\n\ndata: [DONE]\n\n", content_type="text/event-stream")])
    message = failure(server)
    assert message.startswith(("a stream event", "a stream chunk", "streamed content", "a streamed")), message
    assert len(message) < 400


def test_undecodable_bytes_in_a_stream_are_a_retryable_error(scripted_llm):
    raw = b'data: {"choices": [{"delta": {"content": "\xff"}, "finish_reason": "stop"}]}\n\n'
    server = scripted_llm([Reply(body=raw, content_type="text/event-stream")])
    assert "the reply is not valid UTF-8" in failure(server)


def test_multibyte_characters_split_across_network_chunks(scripted_llm):
    text = "naïve café — 日本語 😀🎉 " * 20
    server = scripted_llm([Reply(content=text, split_bytes=3, chunk_chars=5)])
    seen: list[str] = []
    assert call(server, on_text=seen.append).content == text
    assert "".join(seen) == text


def test_emoji_split_into_surrogate_halves_across_chunks_is_joined(scripted_llm):
    # A server that JSON-escapes "😀" as \ud83d\ude00 and cuts between the halves.
    text = "1234567" + "\ud83d\ude00" + "tail" + "\ud83d"  # the last half never gets its partner
    server = scripted_llm([Reply(content=text)])
    seen: list[str] = []
    result = call(server, on_text=seen.append)
    assert result.content == "1234567😀tail\ufffd"
    assert "".join(seen) == result.content
    for piece in seen:
        piece.encode("utf-8")  # every delta can be printed


def test_tool_calls_without_ids_get_one_generated_id_each(scripted_llm):
    calls = [ToolCall("terminal", {"command": "true"}), ToolCall("terminal", {"command": "false"})]
    server = scripted_llm([Reply(tool_calls=calls, omit_call_ids=True)] * 2)
    for stream in (True, False):
        ids = [c["id"] for c in call(server, stream).tool_calls]
        assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


def test_arguments_sent_as_an_object_are_encoded(scripted_llm):
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": "terminal", "arguments": {"command": "ls"}}}]},
        "finish_reason": "tool_calls"}]}
    server = scripted_llm([Reply(body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n",
                                 content_type="text/event-stream")])
    assert call(server).tool_calls[0]["function"]["arguments"] == '{"command": "ls"}'


@pytest.mark.parametrize("where", ["first byte", "mid-stream", "non-streamed"])
def test_stall_fails_the_attempt_after_the_stall_timeout(scripted_llm, where):
    reply = {"first byte": Reply(content="x" * 40, stall=5),
             "mid-stream": Reply(content="x" * 40, stall=5, stall_after=3),
             "non-streamed": Reply(content="x", stall=5)}[where]
    server = scripted_llm([reply])
    started = time.monotonic()
    message = failure(server, stream=where != "non-streamed", stall_timeout=0.3, deadline=0.3)
    assert time.monotonic() - started < 2
    assert "no data from the endpoint for 0.3s" in message


def test_slow_but_steady_stream_is_not_a_stall(scripted_llm):
    server = scripted_llm([Reply(content="y" * 48, chunk_delay=0.1)])
    assert call(server, stall_timeout=0.4).content == "y" * 48


def test_hung_endpoint_gives_up_within_the_deadline_and_shows_progress(scripted_llm):
    server = scripted_llm(default=Reply(content="never", delay=30))
    events = []
    policy = RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=0.05, deadline=1.5, stall_timeout=0.4)
    agent = AIAgent(model="m", base_url=server.base_url, api_key="k", retry_policy=policy, record=False,
                    enabled_toolsets=[], on_event=events.append)
    started = time.monotonic()
    result = agent.run_conversation("hi")
    assert time.monotonic() - started < 3
    assert result["status"] == "error" and "stall timeout" in result["error"]
    retries = [e for e in events if e.type == "retry"]
    assert len(retries) >= 2 and all("no data from the endpoint" in e.error for e in retries)


def test_cli_garbage_replies_retry_then_exit_1_with_run_end_error(scripted_llm, log_dir):
    server = scripted_llm([Reply(body=HTML), Reply(content="cut", cut_after=2), Reply(body="{}", content_type="application/json")])
    result = run_hermes("-p", "hi", *flags(server), env={"HERMES_MAX_RETRIES": "2"})
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert "HTML page" in lines[0] and "retrying" in lines[0]
    assert "stream ended before the reply was complete" in lines[1]
    assert lines[2].startswith("hermes: error: could not get a response") and "after 3 attempts" in lines[2]
    assert "Traceback" not in result.stderr
    events = read_jsonl(next(log_dir.glob("session_*.jsonl")))
    assert events[-2]["type"] == "run_end" and events[-2]["status"] == "error"
    assert [e["attempt"] for e in events if e["type"] == "llm_error"] == [1, 2, 3]


def test_cli_stall_timeout_flag_and_then_the_answer(scripted_llm):
    server = scripted_llm([Reply(content="late", stall=6), Reply(content="on time")])
    result = run_hermes("-p", "hi", *flags(server), "--stall-timeout", "0.3")
    assert result.returncode == 0 and result.stdout == "on time\n"
    # The retry came 0.3 s after the stalled request, not after the 6 s stall: timed by the server
    # between the two requests, so the interpreter's start-up on a loaded machine does not count.
    first, second = (r.time for r in server.chat_requests)
    assert second - first < 3
    assert "no data from the endpoint for 0.3s (stall timeout); retrying" in result.stderr
    bad = run_hermes("-p", "hi", *flags(server), "--stall-timeout", "soon")
    assert bad.returncode == 2 and bad.stderr == (
        "hermes: error: flag --stall-timeout: 'soon' is not valid for model.stall_timeout; expected a number > 0\n")


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "-5", "Wed, 99 Foo 2015 07:28:00 GMT", ""])
def test_unreadable_retry_after_falls_back_to_backoff(scripted_llm, value):
    server = scripted_llm([Reply(status=429, headers={"Retry-After": value}), Reply(content="ok")])
    result = run_hermes("-p", "hi", *flags(server))
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
    assert "HTTP 429" in result.stderr and "Traceback" not in result.stderr


def test_duplicate_call_ids_are_made_unique(scripted_llm):
    calls = [ToolCall("terminal", {"command": "a"}, id="dup"), ToolCall("terminal", {"command": "b"}, id="dup")]
    server = scripted_llm([Reply(tool_calls=calls)])
    ids = [c["id"] for c in call(server).tool_calls]
    assert ids[0] == "dup" and ids[1].startswith("call_")
