"""/undo, /retry and /reset on the real agent: what the server receives next, and what the log replays."""

from __future__ import annotations

import json

from recording.reader import load_session
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl


def make_agent(llm, **kwargs) -> AIAgent:
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"], **kwargs)


def sent_messages(request) -> list[dict]:
    """The conversation part of a request (without the system prompt)."""
    return [m for m in request.body["messages"] if m["role"] != "system"]


def test_undo_removes_the_last_exchange_with_its_tool_calls(scripted_llm, log_dir):
    llm = scripted_llm([
        Reply(content="first answer"),
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo hi"}, id="call_1")]),
        Reply(content="second answer"),
        Reply(content="third answer"),
    ])
    agent = make_agent(llm)
    agent.chat("one")
    agent.chat("two")
    assert len(agent.messages) == 6
    removed = agent.undo()
    assert [m["role"] for m in removed] == ["user", "assistant", "tool", "assistant"]
    assert removed[0]["content"] == "two"
    assert agent.messages == [{"role": "user", "content": "one"}, {"role": "assistant", "content": "first answer"}]
    agent.chat("three")
    assert [m["content"] for m in sent_messages(llm.chat_requests[-1])] == ["one", "first answer", "three"]
    agent.close()

    events = read_jsonl(log_dir / f"session_{agent.session_id}.jsonl")
    edits = [e for e in events if e["type"] == "history_edit"]
    assert edits == [{**edits[0], "action": "undo", "removed_count": 4}]
    assert load_session(log_dir / f"session_{agent.session_id}.jsonl").messages == agent.messages
    data = json.loads((log_dir / f"session_{agent.session_id}.json").read_text(encoding="utf-8"))
    assert data["message_count"] == 4  # the session file shows the history as it stands
    assert [t["value"] for t in data["conversations"] if t["from"] == "human"] == ["one", "three"]


def test_retry_returns_the_prompt_and_resending_it_repeats_the_request(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="meh"), Reply(content="better")])
    agent = make_agent(llm)
    agent.chat("write a haiku")
    text = agent.retry()
    assert text == "write a haiku" and agent.messages == []
    assert agent.chat(text) == "better"
    first, second = llm.chat_requests
    assert first.body["messages"] == second.body["messages"]
    agent.close()
    session = load_session(log_dir / f"session_{agent.session_id}.jsonl")
    assert [e["action"] for e in session.edits] == ["retry"]
    assert session.messages == agent.messages == [{"role": "user", "content": "write a haiku"},
                                                  {"role": "assistant", "content": "better"}]


def test_nothing_to_undo_or_retry(scripted_llm, log_dir):
    agent = make_agent(scripted_llm([]))
    assert agent.undo() == [] and agent.retry() is None
    agent.close()
    assert not log_dir.exists() or not list(log_dir.iterdir())  # nothing happened, nothing logged


def test_text_tool_results_are_not_mistaken_for_prompts(scripted_llm):
    llm = scripted_llm([
        Reply(content='<tool_call>{"name": "terminal", "arguments": {"command": "echo 1"}}</tool_call>'),
        Reply(content="done"),
    ])
    agent = make_agent(llm)
    agent.chat("run it")
    assert agent.messages[2]["content"].startswith("<tool_response>")
    assert len(agent.undo()) == 4 and agent.messages == []
    agent.close()


def test_reset_starts_a_new_session_and_closes_the_old_log(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="a"), Reply(content="b")])
    agent = make_agent(llm)
    agent.chat("old topic")
    old_id = agent.session_id
    agent.reset(new_session=True)
    assert agent.session_id != old_id and agent.messages == [] and agent.api_calls == 0
    agent.chat("new topic")
    assert sent_messages(llm.chat_requests[-1]) == [{"role": "user", "content": "new topic"}]
    agent.close()
    old = read_jsonl(log_dir / f"session_{old_id}.jsonl")
    assert old[-1]["type"] == "session_end" and old[-1]["status"] == "reset"
    new = load_session(log_dir / f"session_{agent.session_id}.jsonl")
    assert new.start["type"] == "session_start" and new.first_prompt == "new topic"


def test_reset_in_place_keeps_the_session_and_logs_the_edit(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="a"), Reply(content="b")])
    agent = make_agent(llm)
    agent.chat("first")
    session_id = agent.session_id
    agent.reset(new_session=False)
    agent.chat("second")
    assert agent.session_id == session_id
    assert sent_messages(llm.chat_requests[-1]) == [{"role": "user", "content": "second"}]
    agent.close()
    session = load_session(log_dir / f"session_{session_id}.jsonl")
    assert session.edits[0]["action"] == "reset" and session.edits[0]["removed_count"] == 2
    assert session.messages == agent.messages
    assert len(session.recorded_messages) == 4  # the raw stream keeps everything


def test_interrupted_exchange_can_be_undone_whole(scripted_llm):
    import threading

    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "sleep 30"}, id="c1")])])
    agent = make_agent(llm)
    timer = threading.Timer(0.5, agent.interrupt)
    timer.start()
    result = agent.run_conversation("sleep please")
    timer.join()
    assert result["status"] == "interrupted"
    assert [m["role"] for m in agent.undo()] == ["user", "assistant", "tool"]
    assert agent.messages == []
    agent.close()
