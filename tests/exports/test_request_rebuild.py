"""The event log alone rebuilds every request the server received (system prompt, tools, messages,
sampling parameters), whatever changed mid-session: `/prompt`, `/personality`, `/toolsets`, a
`--continue` from another directory with other toolsets, a compaction, other sampling settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.compression import SUMMARY_INSTRUCTIONS
from agent.prompts import build_system_prompt
from recording.reader import load_session
from recording.requests import canonical, request_body
from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY


def responder(body: dict, index: int) -> Reply:
    """A tool call for each new prompt, an answer after the tool result, a summary when asked."""
    if body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS:
        return Reply("They ran echo twice.")
    if body["messages"][-1]["role"] == "tool":
        return Reply(f"Done ({index}).")
    return Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])


def agent_requests(llm) -> list[dict]:
    """What the server received from the agent loop (the summariser's call is not an agent call)."""
    return [r.body for r in llm.chat_requests if r.body["messages"][0]["content"] != SUMMARY_INSTRUCTIONS]


def rebuilt(log: Path) -> list[dict]:
    return [request_body(view) for view in load_session(log).calls]


def new_agent(llm, **kwargs):
    from run_agent import AIAgent

    kwargs.setdefault("enabled_toolsets", ["terminal"])
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, **kwargs)


def assert_rebuilt(llm, log: Path) -> None:
    sent = agent_requests(llm)
    got = rebuilt(log)
    assert len(got) == len(sent)
    for number, (mine, theirs) in enumerate(zip(got, sent, strict=True), 1):
        assert canonical(mine) == canonical(theirs), f"call {number} differs"


def log_of(agent, log_dir: Path) -> Path:
    return log_dir / f"session_{agent.session_id}.jsonl"


@pytest.mark.parametrize("change", ["prompt", "personality", "toolsets"])
def test_repl_changes_are_in_the_log(scripted_llm, log_dir, change):
    llm = scripted_llm(responder)
    agent = new_agent(llm)
    agent.chat("first")
    if change == "prompt":  # what /prompt does (hermes_cli/repl/app.py rebuild_system_prompt)
        agent.system_prompt = build_system_prompt("You are a pirate.", None, with_tools=True)
    elif change == "personality":
        agent.system_prompt = build_system_prompt(None, "Speak like a cat.", with_tools=True)
    else:
        agent.set_toolsets(["terminal", "file"])
        agent.system_prompt = build_system_prompt(None, None, with_tools=True)
    agent.chat("second")
    agent.close()
    log = log_of(agent, log_dir)
    assert_rebuilt(llm, log)
    views = load_session(log).calls
    assert views[0].context.system_prompt != views[-1].context.system_prompt or change == "toolsets"
    if change == "toolsets":
        assert {t["function"]["name"] for t in views[-1].context.tools} > {"terminal"}


def test_resume_from_another_directory_with_other_toolsets(scripted_llm, log_dir, tmp_path, monkeypatch):
    llm = scripted_llm(responder)
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    agent = new_agent(llm)
    agent.chat("one")
    agent.close()
    log = log_of(agent, log_dir)
    monkeypatch.chdir(second)
    again = new_agent(llm, resume=log, enabled_toolsets=["terminal", "file"])
    again.chat("two")
    again.close()
    assert_rebuilt(llm, log)
    session = load_session(log)
    assert str(second) in session.calls[-1].context.system_prompt
    assert [v.number for v in session.calls] == [1, 2, 3, 4]  # unique across both runs


def test_compaction_and_sampling_settings(scripted_llm, log_dir):
    llm = scripted_llm(responder)
    agent = new_agent(llm, request_params={"temperature": 0.3, "max_tokens": 77}, stream=False,
                      token_capture=True)
    for prompt in ("one", "two", "three"):
        agent.chat(prompt)
    assert agent.compress() is not None
    agent.chat("four")
    agent.close()
    log = log_of(agent, log_dir)
    assert_rebuilt(llm, log)
    session = load_session(log)
    assert len(session.calls) == 8 and any(e["type"] == "context_compressed" for e in session.edits)


# -- every export uses the request in force at each call -------------------------------------------
def rendered_prompts(log: Path, chat_tok) -> list[list[int]]:
    from exports.rollout import RolloutBuilder
    from exports.source import load_trajectory

    calls, left_out = RolloutBuilder(chat_tok).call_tokens(load_trajectory(log))
    assert left_out == []
    return [c.prompt for c in calls]


@pytest.mark.parametrize("change", ["prompt", "toolsets", "compaction"])
def test_rollout_renders_each_call_from_its_own_request(scripted_llm, log_dir, chat_tok, vllm, tmp_path, change):
    """No server ids: every call's prompt is rendered locally, and must equal the server's render of
    what it received (a stale system prompt, tool list or pre-compaction history would differ)."""
    llm = scripted_llm(responder)
    agent = new_agent(llm)
    agent.chat("first")
    if change == "prompt":
        agent.system_prompt = build_system_prompt("You are a pirate.", None, with_tools=True)
    elif change == "toolsets":
        agent.set_toolsets(["terminal", "file"])
    else:
        agent.chat("second")
        agent.chat("third")
        assert agent.compress() is not None
    agent.chat("last")
    agent.close()
    log = log_of(agent, log_dir)
    served = [vllm.prompt_ids(body) for body in agent_requests(llm)]
    assert rendered_prompts(log, chat_tok) == served
    from tests.exports.toolkit import export

    records = export(log, chat_tok, tmp_path / "r.jsonl")
    assert sorted(n for r in records for n in r["calls"]) == list(range(1, len(served) + 1))
    assert all(r["calls_left_out"] == "[]" for r in records)


def test_chat_formats_follow_the_request_context_and_mark_compaction(scripted_llm, log_dir, tmp_path):
    from tests.exports.toolkit import export

    llm = scripted_llm(responder)
    agent = new_agent(llm)
    agent.chat("first")
    agent.system_prompt = "You are a pirate."
    for prompt in ("second", "third", "fourth"):
        agent.chat(prompt)
    assert agent.compress() is not None
    agent.chat("last")
    agent.close()
    log = log_of(agent, log_dir)
    sent = agent_requests(llm)
    records = export(log, None, tmp_path / "o.jsonl", fmt="openai")
    assert [r["compaction"] for r in records] == ["before", "before", "after"]
    trained = [m for r in records for m in r["messages"] if m["role"] == "assistant" and m["weight"]]
    assert len(trained) == len(sent)  # every reply trained exactly once
    for record in records:  # each record's system prompt is the one in force for its trained turns
        assert record["messages"][0]["content"] in {"You are a pirate.", sent[0]["messages"][0]["content"]}
    assert records[0]["messages"][0]["content"] == sent[0]["messages"][0]["content"]
    assert all(r["messages"][0]["content"] == "You are a pirate." for r in records[1:])

    rows = export(log, None, tmp_path / "m.jsonl", fmt="messages")
    assert [r["compaction"] for r in rows] == ["before", "before", "after"]
    calls = [m for r in rows for m in r["messages"] if m.get("tool_calls")]
    assert all(isinstance(c["tool_calls"][0]["function"]["arguments"], dict) for c in calls)
    tools = [m for r in rows for m in r["messages"] if m["role"] == "tool"]
    assert tools and all(m["name"] == "terminal" for m in tools)


def test_messages_render_to_what_the_server_rendered(scripted_llm, log_dir, tmp_path, hf_tok, vllm):
    from tests.exports.toolkit import HERMES_TEMPLATE, export

    llm = scripted_llm(responder)
    agent = new_agent(llm)
    agent.chat("first")
    agent.chat("second")
    agent.close()
    (row,) = export(log_of(agent, log_dir), None, tmp_path / "m.jsonl", fmt="messages")
    last = agent_requests(llm)[-1]
    ours = hf_tok.apply_chat_template(row["messages"][:-1], tools=row["tools"], add_generation_prompt=True,
                                      tokenize=False, chat_template=HERMES_TEMPLATE)
    assert hf_tok.encode(ours, add_special_tokens=False) == vllm.prompt_ids(last)


def test_atif_and_sharegpt_mark_the_compaction(scripted_llm, log_dir, tmp_path):
    from tests.exports.toolkit import export

    llm = scripted_llm(responder)
    agent = new_agent(llm)
    for prompt in ("one", "two", "three"):
        agent.chat(prompt)
    assert agent.compress() is not None
    agent.chat("four")
    agent.close()
    log = log_of(agent, log_dir)
    (doc,) = export(log, None, tmp_path / "a.jsonl", fmt="atif")
    steps = doc["steps"]
    (boundary,) = [s for s in steps if (s.get("extra") or {}).get("context_management")]
    assert boundary["source"] == "system" and boundary["message"].startswith("[Summary of earlier conversation:")
    assert boundary["extra"]["context_management"]["type"] == "compaction"
    at = steps.index(boundary)
    # every reply is an agent step once outside copied context; the kept messages follow as copies
    fresh = [s for s in steps if s["source"] == "agent" and not s.get("is_copied_context")]
    assert len(fresh) == len(agent_requests(llm))
    assert all(s.get("is_copied_context") for s in steps[at + 1: at + 2])
    assert [s["message"] for s in steps if s["source"] == "user" and not s.get("is_copied_context")] == \
        ["one", "two", "three", "four"]
    (record,) = export(log, None, tmp_path / "s.jsonl", fmt="sharegpt")
    assert record["compacted"] is True


def test_sharegpt_text_mode_results_are_human_turns_as_upstream(tmp_path):
    from recording.sharegpt import to_sharegpt

    turns = to_sharegpt([
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": '<tool_call>\n{"name": "terminal", "arguments": {"command": "ls"}}\n</tool_call>'},
        {"role": "user", "content": '<tool_response>\n{"name": "terminal", "content": "a"}\n</tool_response>'},
        {"role": "assistant", "content": "a"},
    ], [])
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "human", "gpt"]


def test_atif_shows_each_system_prompt_and_every_tool_offered(scripted_llm, log_dir, tmp_path):
    from tests.exports.toolkit import export

    llm = scripted_llm(responder)
    agent = new_agent(llm)
    agent.chat("first")
    agent.set_toolsets(["terminal", "file"])
    agent.system_prompt = "You are a pirate."
    agent.chat("second")
    agent.close()
    (doc,) = export(log_of(agent, log_dir), None, tmp_path / "a.jsonl", fmt="atif")
    sent = agent_requests(llm)
    systems = [s["message"] for s in doc["steps"] if s["source"] == "system"]
    assert systems == [sent[0]["messages"][0]["content"], "You are a pirate."]
    names = {t["function"]["name"] for t in doc["agent"]["tool_definitions"]}
    assert names == {t["function"]["name"] for t in sent[-1]["tools"]} | {"terminal"}


def test_call_numbers_stay_unique_across_resumed_runs_in_every_token_export(scripted_llm, log_dir, chat_tok, vllm,
                                                                           tmp_path):
    """Three runs of one session (two `--continue`s): the calls are 1..6 in the log and in the
    rollout, atropos and verl metadata, never restarting at 1 per run."""
    from tests.exports.toolkit import export, reply

    def sampled(body: dict, index: int) -> Reply:  # raw text as the template renders it: one merged sample
        if body["messages"][-1]["role"] == "tool":
            return reply(f"Done ({index}).")
        return reply(calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])

    llm = scripted_llm(sampled, **vllm.server_kwargs())
    agent = new_agent(llm, token_capture=True)
    agent.chat("one")
    agent.close()
    log = log_of(agent, log_dir)
    for prompt in ("two", "three"):
        again = new_agent(llm, resume=log, token_capture=True)
        again.chat(prompt)
        again.close()
    assert [v.number for v in load_session(log).calls] == [1, 2, 3, 4, 5, 6]
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    assert record["calls"] == [1, 2, 3, 4, 5, 6] and record["token_source"] == "server"
    (group,) = export(log, chat_tok, tmp_path / "a.jsonl", fmt="atropos")
    assert [o["hermes"]["calls"] for o in group["overrides"]] == [[1, 2, 3, 4, 5, 6]]
    (row,) = export(log, chat_tok, tmp_path / "v.jsonl", fmt="verl")
    assert row["extra_fields"]["calls"] == [1, 2, 3, 4, 5, 6]
