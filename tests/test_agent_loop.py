"""AIAgent against the scripted server through the real openai SDK: the loop, tools, retries, events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent.events import Retrying, TextDelta, ToolEnd, ToolStart
from agent.retry import RetryPolicy
from run_agent import AIAgent
from scripted_server import Reply, ToolCall

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, deadline=10)


def make_agent(llm, **kwargs) -> AIAgent:
    kwargs.setdefault("retry_policy", FAST)
    kwargs.setdefault("enabled_toolsets", ["terminal", "file"])
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="sk-test-key-123456", **kwargs)


def tool_messages(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] == "tool"]


def test_plain_answer_streams_and_sends_system_user_and_tools(scripted_llm):
    llm = scripted_llm([Reply(content="Hello there, general Kenobi.")])
    events = []
    agent = make_agent(llm, on_event=events.append)
    result = agent.run_conversation("hi")
    assert result["status"] == "success"
    assert result["final_response"] == "Hello there, general Kenobi."
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there, general Kenobi."
    assert sum(isinstance(e, TextDelta) for e in events) > 1  # streamed in pieces
    body = llm.chat_requests[0].body
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": "hi"}
    assert {t["function"]["name"] for t in body["tools"]} >= {"terminal", "read_file"}


def test_tool_loop_feeds_result_back_with_call_id(scripted_llm):
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo $((6*7))"}, id="call_a")]),
        Reply(content="42"),
    ])
    events = []
    agent = make_agent(llm, on_event=events.append)
    assert agent.chat("What is 6*7? Use the terminal.") == "42"
    second = llm.chat_requests[1].body["messages"]
    assistant = second[-2]
    assert assistant["tool_calls"][0]["id"] == "call_a"
    [tool] = tool_messages(llm.chat_requests[1])
    assert tool["tool_call_id"] == "call_a"
    assert json.loads(tool["content"])["output"].strip() == "42"
    kinds = [type(e).__name__ for e in events if isinstance(e, (ToolStart, ToolEnd))]
    assert kinds == ["ToolStart", "ToolEnd"]
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert end.ok and end.name == "terminal"


def rendezvous(mine: Path, other: Path, word: str) -> str:
    """A command that prints `word` only if the other one is running at the same time (waits up to 10 s)."""
    return (f"touch {mine}; for i in $(seq 1000); do [ -e {other} ] && break; sleep 0.01; done; "
            f"[ -e {other} ] && echo {word}")


def test_parallel_tool_calls_run_concurrently_and_keep_order(scripted_llm, tmp_path):
    # Each command waits for the other to start: run one after the other, neither would print.
    a, b = tmp_path / "a", tmp_path / "b"
    llm = scripted_llm([
        Reply(tool_calls=[
            ToolCall("terminal", {"command": rendezvous(a, b, "first")}, id="c1"),
            ToolCall("terminal", {"command": rendezvous(b, a, "second")}, id="c2"),
        ]),
        Reply(content="done"),
    ])
    agent = make_agent(llm)
    assert agent.chat("go") == "done"
    tools = tool_messages(llm.chat_requests[1])
    assert [t["tool_call_id"] for t in tools] == ["c1", "c2"]
    assert "first" in tools[0]["content"] and "second" in tools[1]["content"]


def test_unknown_tool_and_bad_arguments_become_recoverable_errors(scripted_llm):
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("no_such_tool", {"x": 1}, id="u1"), ToolCall("terminal", '{"command": "ls', id="u2")]),
        Reply(content="recovered"),
    ])
    agent = make_agent(llm)
    assert agent.chat("go") == "recovered"
    unknown, broken = (json.loads(t["content"]) for t in tool_messages(llm.chat_requests[1]))
    assert "unknown tool 'no_such_tool'" in unknown["error"] and "terminal" in unknown["error"]
    assert "not valid JSON" in broken["error"]


def test_missing_required_argument_is_reported(scripted_llm):
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {}, id="m1")]), Reply(content="ok")])
    make_agent(llm).chat("go")
    [tool] = tool_messages(llm.chat_requests[1])
    assert "missing required argument" in json.loads(tool["content"])["error"]


def test_text_tool_calls_in_content_are_parsed_and_run(scripted_llm):
    content = 'Let me check.\n<tool_call>\n{"name": "terminal", "arguments": {"command": "echo parsed-$((2+3))"}}\n</tool_call>'
    llm = scripted_llm([Reply(content=content), Reply(content="It printed parsed-5.")])
    events = []
    agent = make_agent(llm, on_event=events.append)
    assert agent.chat("run it") == "It printed parsed-5."
    last = llm.chat_requests[1].body["messages"][-1]
    assert last["role"] == "user" and last["content"].startswith("<tool_response>")
    assert "parsed-5" in last["content"]
    assert any(isinstance(e, ToolEnd) and e.ok for e in events)


def test_invalid_text_tool_call_asks_the_model_to_fix_it(scripted_llm):
    llm = scripted_llm([Reply(content="<tool_call>{not json at all</tool_call>"), Reply(content="fixed")])
    assert make_agent(llm).chat("x") == "fixed"
    last = llm.chat_requests[1].body["messages"][-1]["content"]
    assert "could not parse <tool_call>" in last and "Please output valid JSON" in last


def test_retries_on_5xx_and_429_honouring_retry_after(scripted_llm):
    llm = scripted_llm([
        Reply(status=503),
        Reply(status=429, headers={"Retry-After": "0.4"}),
        Reply(content="finally"),
    ])
    events = []
    agent = make_agent(llm, on_event=events.append)
    started = time.perf_counter()
    assert agent.chat("x") == "finally"
    assert time.perf_counter() - started >= 0.4
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.attempt for r in retries] == [1, 2]
    assert retries[1].delay == pytest.approx(0.4)
    assert len(llm.chat_requests) == 3


def test_retries_give_up_with_clear_error(scripted_llm):
    llm = scripted_llm([Reply(status=500)] * 10)
    result = make_agent(llm).run_conversation("x")
    assert result["status"] == "error"
    assert "after 4 attempts" in result["error"] and "HTTP 500" in result["error"]
    assert len(llm.chat_requests) == 4


def test_auth_error_is_not_retried(scripted_llm):
    llm = scripted_llm([Reply(status=401, error_body={"error": {"message": "bad key"}})] * 3)
    result = make_agent(llm).run_conversation("x")
    assert result["status"] == "error" and "API key" in result["error"]
    assert len(llm.chat_requests) == 1


def test_dropped_stream_and_malformed_chunk_are_retried(scripted_llm):
    llm = scripted_llm([
        Reply(content="this stream will be cut off in the middle", disconnect="during"),
        Reply(content="garbled stream content here", malformed=True),
        Reply(content="clean"),
    ])
    assert make_agent(llm).chat("x") == "clean"
    assert len(llm.chat_requests) == 3


def test_max_turns_stops_the_run(scripted_llm):
    call = Reply(tool_calls=[ToolCall("terminal", {"command": "true"})])
    llm = scripted_llm([call] * 5)
    result = make_agent(llm, max_turns=3).run_conversation("loop forever")
    assert result["status"] == "max_turns" and result["final_response"] is None
    assert len(llm.chat_requests) == 3
    assert "3 turns" in result["error"]


def test_repeated_identical_failing_calls_are_stopped(scripted_llm):
    failing = Reply(tool_calls=[ToolCall("terminal", {"command": "echo nope; exit 3"})])
    llm = scripted_llm([failing] * 20)
    result = make_agent(llm).run_conversation("keep failing")
    assert result["status"] == "loop_detected"
    contents = [json.loads(m["content"]) for m in result["messages"] if m["role"] == "tool"]
    assert sum("exit_code" in c for c in contents) == 3  # actually ran three times
    assert all("already failed 3 times" in c["error"] for c in contents[3:])
    assert len(llm.chat_requests) < 10


def test_ephemeral_system_prompt_is_sent_but_never_saved(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="ok")])
    agent = make_agent(llm, ephemeral_system_prompt="SECRET-STEERING-TEXT")
    agent.chat("x")
    agent.close()
    assert "SECRET-STEERING-TEXT" in llm.chat_requests[0].body["messages"][0]["content"]
    for path in log_dir.iterdir():
        assert "SECRET-STEERING-TEXT" not in path.read_text(encoding="utf-8")


def test_non_streaming_mode(scripted_llm):
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "echo hi"})]), Reply(content="said hi")])
    agent = make_agent(llm, stream=False)
    assert agent.chat("x") == "said hi"
    assert not llm.chat_requests[0].body.get("stream")


def test_chat_keeps_history_between_messages(scripted_llm):
    llm = scripted_llm([Reply(content="first answer"), Reply(content="second answer")])
    agent = make_agent(llm)
    agent.chat("one")
    assert agent.chat("two") == "second answer"
    sent = [m["content"] for m in llm.chat_requests[1].body["messages"][1:]]
    assert sent == ["one", "first answer", "two"]


def test_model_discovered_from_models_endpoint(scripted_llm):
    llm = scripted_llm([Reply(content="ok")], models=["local-llama"])
    agent = AIAgent(base_url=llm.base_url, api_key="x", enabled_toolsets=["terminal"], retry_policy=FAST)
    assert agent.chat("x") == "ok"
    assert llm.chat_requests[0].body["model"] == "local-llama"


def test_token_capture_requests_and_records_ids_and_logprobs(scripted_llm, log_dir):
    from tests.conftest import read_jsonl

    llm = scripted_llm([Reply(content="token aware")])
    agent = make_agent(llm, token_capture=True)
    agent.chat("x")
    agent.close()
    body = llm.chat_requests[0].body
    assert body["logprobs"] is True and body["return_token_ids"] is True
    [call] = [e for e in read_jsonl(agent.session_paths[0]) if e["type"] == "llm_call"]
    assert call["prompt_token_ids"] and call["completion_token_ids"]
    assert call["token_source"] == "server"
    assert "".join(lp["token"] for lp in call["logprobs"]) == "token aware"


def test_interrupt_from_another_thread_stops_the_command_and_keeps_history_valid(scripted_llm, tmp_path):
    import threading

    started_file = tmp_path / "started"
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"touch {started_file}; sleep 30"},
                                                    id="slow")]),
                        Reply(content="never")])
    events = []
    agent = make_agent(llm, on_event=events.append)

    def interrupt_once_running() -> None:  # not after a fixed delay: a busy machine may not be there yet
        deadline = time.monotonic() + 20
        while not started_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        agent.interrupt()

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    result = agent.run_conversation("wait")
    assert result["status"] == "interrupted"
    tool = result["messages"][-1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "slow"
    assert json.loads(tool["content"])["interrupted"] is True


def test_interrupt_during_a_slow_stream(scripted_llm):
    import threading

    from agent.events import TextDelta

    llm = scripted_llm([Reply(content="word " * 200, chunk_delay=0.05)])
    streaming = threading.Event()
    agent = make_agent(llm, on_event=lambda e: isinstance(e, TextDelta) and streaming.set())

    def interrupt_mid_stream() -> None:  # once text flows (not after a fixed time: start-up varies with load)
        if streaming.wait(10):
            time.sleep(0.2)
        agent.interrupt()

    threading.Thread(target=interrupt_mid_stream, daemon=True).start()
    started = time.perf_counter()
    result = agent.run_conversation("talk")
    assert result["status"] == "interrupted" and time.perf_counter() - started < 6  # the stream lasts 10 s
    user, kept = result["messages"]  # what was streamed stays, marked (agent/interruption.py)
    assert user == {"role": "user", "content": "talk"} and kept["role"] == "assistant"
    assert kept["content"].startswith("word word") and kept["content"].endswith("\n\n[interrupted by the user]")


def test_streamed_turns_reuse_one_connection(scripted_llm):
    # The sync SDK drops the connection when it stops reading at [DONE]; we drain the body so a
    # remote endpoint is not paying a TCP+TLS handshake on every turn.
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "true"})]),
                        Reply(tool_calls=[ToolCall("terminal", {"command": "true"})]),
                        Reply(content="done")])
    agent = AIAgent("m", llm.base_url, "x", enabled_toolsets=["terminal"], record=False)
    assert agent.run_conversation("go")["final_response"] == "done"
    assert len(llm.chat_requests) == 3 and llm.connections == 1
