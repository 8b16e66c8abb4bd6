"""Context compression against the scripted server: what is replaced, what the server sees next, failures."""

from __future__ import annotations

import re

import pytest

from agent.compression import SUMMARY_INSTRUCTIONS, middle_span
from agent.events import Notice
from recording.reader import load_session
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl

SUMMARY = "The user asked about files; the agent listed them."


def is_summary_request(body: dict) -> bool:
    return body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS


class Script:
    """Answers summary requests with SUMMARY (or a failure) and everything else from a queue."""

    def __init__(self, replies: list[Reply], summary: Reply | None = None) -> None:
        self.replies = list(replies)
        self.summary = summary or Reply(content=SUMMARY)

    def __call__(self, body: dict, index: int) -> Reply:
        if is_summary_request(body):
            return self.summary
        return self.replies.pop(0) if self.replies else Reply(content="ok")


def make_agent(llm, notices: list[str] | None = None, **kwargs) -> AIAgent:
    def on_event(event):
        if isinstance(event, Notice) and notices is not None:
            notices.append(event.text)

    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"],
                   on_event=on_event, **kwargs)


def tool_exchange(n: int) -> list[Reply]:
    return [Reply(tool_calls=[ToolCall("terminal", {"command": f"echo step{n}"}, id=f"call_{n}")]),
            Reply(content=f"answer {n}")]


def converse(agent: AIAgent, turns: int) -> None:
    for n in range(turns):
        agent.chat(f"question {n}")


def assert_tool_pairs_intact(messages: list[dict]) -> None:
    """Every tool result follows the assistant message that called it, and every call has its result."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, message
            open_calls.discard(message["tool_call_id"])
        else:
            assert not open_calls, f"calls without results before {message}"
            open_calls = {c["id"] for c in message.get("tool_calls") or []}
    assert not open_calls


def test_compress_replaces_the_middle_and_the_next_request_carries_the_summary(scripted_llm, log_dir):
    script = Script([r for n in range(5) for r in tool_exchange(n)] + [Reply(content="final")])
    llm = scripted_llm(script)
    notices: list[str] = []
    agent = make_agent(llm, notices)
    converse(agent, 5)
    before = list(agent.messages)
    assert len(before) == 20

    result = agent.compress("test")
    assert result is not None and result.summary == SUMMARY
    summary_body = llm.chat_requests[-1].body
    assert is_summary_request(summary_body) and "echo step1" in summary_body["messages"][1]["content"]
    assert "question 0" not in summary_body["messages"][1]["content"]  # the first prompt is kept as is
    assert agent.messages[0] == before[0]
    assert agent.messages[1] == {"role": "user", "content": f"[Summary of earlier conversation: {SUMMARY}]"}
    assert agent.messages[2:] == before[-len(agent.messages) + 2:]
    assert result.replaced_count == len(before) - len(agent.messages) + 1
    assert_tool_pairs_intact(agent.messages)
    assert notices and notices[-1].startswith(f"compressed {result.replaced_count} earlier messages")

    agent.chat("and now?")
    sent = llm.chat_requests[-1].body["messages"]
    assert sent[0]["role"] == "system" and sent[1] == before[0]
    assert sent[2]["content"].startswith("[Summary of earlier conversation: The user asked")
    agent.close()

    log = log_dir / f"session_{agent.session_id}.jsonl"
    (event,) = [e for e in read_jsonl(log) if e["type"] == "context_compressed"]
    assert event["start"] == 1 and event["replaced_count"] == result.replaced_count
    assert event["summary"] == SUMMARY and event["reason"] == "test" and event["usage"]["prompt_tokens"] > 0
    assert load_session(log).messages == agent.messages  # a resumed session shows the compressed history


def test_compression_triggers_before_a_call_that_would_pass_the_threshold(scripted_llm):
    big = {"prompt_tokens": 900, "completion_tokens": 5, "total_tokens": 905}
    # answers long enough that a summary of them is smaller (else compressing is not worth it)
    replies = [Reply(content=f"answer {n} " + "detail " * 60, usage=big if n == 3 else None)
               for n in range(4)] + [Reply(content="fine")]
    llm = scripted_llm(Script(replies))
    notices: list[str] = []
    agent = make_agent(llm, notices, context_window=1000, compress_threshold=0.8)
    converse(agent, 4)
    assert not any(is_summary_request(r.body) for r in llm.chat_requests)  # usage was small until the 4th
    agent.chat("next")
    bodies = [r.body for r in llm.chat_requests]
    assert is_summary_request(bodies[-2]) and not is_summary_request(bodies[-1])
    assert any(m["content"].startswith("[Summary of earlier conversation:") for m in bodies[-1]["messages"])
    assert bodies[-1]["messages"][-1] == {"role": "user", "content": "next"}
    assert "context above 80% of the window" in notices[-1]
    agent.close()


def test_estimate_triggers_without_server_usage(scripted_llm):
    llm = scripted_llm(Script([Reply(content="x" * 400, usage={}) for _ in range(10)]))
    notices: list[str] = []
    agent = make_agent(llm, notices, context_window=600)  # chars/4 of a few long answers passes 480 tokens
    converse(agent, 10)
    assert sum(is_summary_request(r.body) for r in llm.chat_requests) >= 1
    # until the history is long enough to have a middle, it says so once instead of every call
    assert sum(n.startswith("nothing to compress") for n in notices) == 1
    agent.close()


def test_summary_failure_keeps_everything_that_fits(scripted_llm, log_dir):
    llm = scripted_llm(Script([Reply(content=f"a{n}") for n in range(6)], summary=Reply(status=500)))
    notices: list[str] = []
    agent = make_agent(llm, notices)
    converse(agent, 6)
    before = list(agent.messages)
    assert agent.compress("manual") is None
    assert agent.messages == before
    assert "could not summarise" in notices[-1] and "kept all 12 messages" in notices[-1]
    agent.close()
    events = read_jsonl(log_dir / f"session_{agent.session_id}.jsonl")
    assert not [e for e in events if e["type"] == "context_compressed"]


def test_summary_failure_over_the_window_drops_oldest_and_says_so(scripted_llm, log_dir):
    replies = [r for n in range(8) for r in tool_exchange(n)]
    llm = scripted_llm(Script(replies, summary=Reply(status=400)))
    notices: list[str] = []
    agent = make_agent(llm, notices, context_window=100_000)
    converse(agent, 8)
    agent.context.window = 700  # the model we switch to is much smaller
    before = list(agent.messages)
    result = agent.compress("manual")
    assert result is not None and result.summary is None and result.error
    dropped = result.replaced_count
    assert dropped > 0 and f"dropped the {dropped} oldest messages" in notices[-1]
    assert "could not summarise" in notices[-1]
    assert agent.messages[0] == before[0]
    assert agent.messages[1]["content"].startswith(f"[Earlier conversation omitted: {dropped} messages")
    assert agent.messages[2:] == before[1 + dropped:]
    assert result.tokens_after <= agent.context.limit
    assert_tool_pairs_intact(agent.messages)
    agent.close()
    log = log_dir / f"session_{agent.session_id}.jsonl"
    assert load_session(log).messages == agent.messages


def test_compress_reports_what_is_sent_and_keeps_a_history_a_summary_would_not_shrink(scripted_llm, log_dir):
    """Before and after are the same measure (the issue saw the server's 115 prompt tokens "grow" to
    an estimate of 2,258); a summary longer than what it replaces is not applied."""
    tiny = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    wordy = Reply(content="a summary longer than the short exchanges it would replace " * 10)
    llm = scripted_llm(Script([Reply(content=f"a{n}", usage=tiny) for n in range(6)], summary=wordy))
    notices: list[str] = []
    agent = make_agent(llm, notices)
    converse(agent, 6)
    before = list(agent.messages)
    assert agent.compress("manual") is None and agent.messages == before
    assert notices[-1].startswith("nothing worth compressing") and "unchanged" in notices[-1]
    agent.close()
    assert not [e for e in read_jsonl(log_dir / f"session_{agent.session_id}.jsonl")
                if e["type"] == "context_compressed"]

    long = scripted_llm(Script([Reply(content="detail " * 200, usage=tiny) for _ in range(6)]))
    notices = []
    agent = make_agent(long, notices)
    converse(agent, 6)
    result = agent.compress("manual")
    assert result is not None and result.tokens_before > result.tokens_after
    shown = [int(n.replace(",", "")) for n in re.findall(r"≈([\d,]+) → ([\d,]+)", notices[-1])[0]]
    assert shown == [result.tokens_before, result.tokens_after] and shown[0] > 1000  # tools and prompt counted
    agent.close()


def test_nothing_to_compress_says_so(scripted_llm):
    llm = scripted_llm(Script([Reply(content="hi")]))
    notices: list[str] = []
    agent = make_agent(llm, notices)
    agent.chat("hello")
    assert agent.compress() is None and notices[-1].startswith("nothing to compress")
    agent.close()


def call(id_: str) -> dict:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": id_, "type": "function", "function": {"name": "terminal", "arguments": "{}"}}]}


def result(id_: str) -> dict:
    return {"role": "tool", "tool_call_id": id_, "content": "{}"}


@pytest.mark.parametrize("keep_last", range(1, 9))
def test_middle_span_never_splits_a_call_from_its_results(keep_last):
    two_results = {**call("b"), "tool_calls": call("b")["tool_calls"] + call("c")["tool_calls"]}
    messages = [{"role": "user", "content": "q"}, call("a"), result("a"), {"role": "assistant", "content": "x"},
                {"role": "user", "content": "q2"}, two_results, result("b"), result("c"),
                {"role": "assistant", "content": "y"}, {"role": "user", "content": "q3"}, call("d"), result("d")]
    span = middle_span(messages, keep_last)
    if span is None:
        return
    start, end = span
    assert start == 1 and end <= len(messages) - keep_last
    assert_tool_pairs_intact(messages[:start] + messages[end:])


def test_middle_span_needs_something_to_replace():
    assert middle_span([], 4) is None
    assert middle_span([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], 0) is None
