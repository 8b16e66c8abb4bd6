"""Resuming sessions: the Python API, --continue / --resume on one-shot runs, and /sessions listing."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from agent.session_resume import recap
from recording.reader import list_sessions, load_session
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl, run_hermes


def make_agent(llm, **kwargs) -> AIAgent:
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"], **kwargs)


def endpoint_flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


def sent(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] != "system"]


def first_session(llm_factory) -> AIAgent:
    llm = llm_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo 42"}, id="call_1")]),
        Reply(content="It is 42."),
        Reply(content="Yes, 42 again."),
    ])
    agent = make_agent(llm)
    agent.chat("What is 6*7?")
    agent.chat("Sure?")
    agent.close()
    return agent


def test_resume_rebuilds_history_and_appends_to_the_same_files(scripted_llm, log_dir):
    old = first_session(scripted_llm)
    log = log_dir / f"session_{old.session_id}.jsonl"
    llm = scripted_llm([Reply(content="Still 42.")])
    agent = make_agent(llm, resume=log)
    assert agent.session_id == old.session_id and agent.messages == old.messages
    assert agent.chat("And now?") == "Still 42."
    assert sent(llm.chat_requests[0]) == [*old.messages, {"role": "user", "content": "And now?"}]
    agent.close()

    assert {p.name for p in log_dir.iterdir()} == {log.name, log.with_suffix(".json").name}
    events = read_jsonl(log)
    assert [e["type"] for e in events].count("session_start") == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    resume = next(e for e in events if e["type"] == "session_resume")
    assert resume["previous_messages"] == len(old.messages) and resume["model"] == "scripted-model"
    assert "tools" not in resume  # same tools as the session started with
    session = load_session(log)
    assert session.messages == agent.messages and session.end is not None
    data = json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["message_count"] == len(agent.messages) == 8
    assert [t["from"] for t in data["conversations"]] == ["system", "human", "gpt", "tool", "gpt", "human", "gpt",
                                                          "human", "gpt"]
    assert data["session_start"] == events[0]["session_start"]


def test_recap_shows_the_last_prompt_and_the_start_of_the_answer():
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "explain   the\nrecorder " + "in detail " * 30},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                               "function": {"name": "read_file", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "{}"},
        {"role": "assistant", "content": "The recorder appends one line per event.\nIt never rewrites."},
    ]
    you, hermes = recap(messages).splitlines()
    assert you.startswith("you: explain the recorder in detail") and you.endswith("…") and len(you) <= 105
    assert hermes == "hermes: The recorder appends one line per event. It never rewrites."
    assert recap([]) == "(no earlier messages)"
    assert recap(messages[:3]).splitlines()[1] == "hermes: (no answer yet)"


def test_undo_right_after_resume_is_recorded_and_replayed(scripted_llm, log_dir):
    old = first_session(scripted_llm)
    log = log_dir / f"session_{old.session_id}.jsonl"
    agent = make_agent(scripted_llm([]), resume=log)
    assert [m["content"] for m in agent.undo()][0] == "Sure?"
    agent.close()
    again = make_agent(scripted_llm([]), resume=log)
    assert again.messages == old.messages[:4]
    assert recap(again.messages).splitlines() == ["you: What is 6*7?", "hermes: It is 42."]


def test_resume_after_kill_keeps_the_log_parseable(scripted_llm, log_dir):
    old = first_session(scripted_llm)
    log = log_dir / f"session_{old.session_id}.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:-1]) + '{"v": 1, "type": "mess', encoding="utf-8")  # died mid-write
    agent = make_agent(scripted_llm([Reply(content="back")]), resume=log)
    agent.chat("hello again")
    agent.close()
    session = load_session(log)
    assert session.messages[-2:] == [{"role": "user", "content": "hello again"},
                                     {"role": "assistant", "content": "back"}]
    assert session.end is not None


def test_oneshot_continue_and_resume_by_prefix(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="Paris."), Reply(content="About 2.1 million."), Reply(content="Yes.")])
    first = run_hermes("-p", "Capital of France?", *endpoint_flags(llm))
    assert first.returncode == 0, first.stderr
    (log,) = log_dir.glob("session_*.jsonl")
    session_id = log.name[len("session_"):-len(".jsonl")]

    result = run_hermes("-p", "Its population?", "--continue", *endpoint_flags(llm), "--output-format", "json")
    assert result.returncode == 0, result.stderr
    out = result.json()
    assert out["answer"] == "About 2.1 million." and out["session_id"] == session_id
    assert [m["content"] for m in sent(llm.chat_requests[1])] == ["Capital of France?", "Paris.", "Its population?"]

    result = run_hermes("-p", "Sure?", "--resume", session_id[:12], *endpoint_flags(llm))
    assert (result.returncode, result.stdout) == (0, "Yes.\n"), result.stderr
    assert len(sent(llm.chat_requests[2])) == 5
    assert list(log_dir.glob("session_*.jsonl")) == [log]
    events = read_jsonl(log)
    assert [e["type"] for e in events].count("session_resume") == 2
    assert load_session(log).user_turns == 3


def test_resume_errors_are_one_line_with_candidates(scripted_llm, log_dir):
    log_dir.mkdir(parents=True)
    for sid in ("20261121_101010_aaaaaa", "20261121_101010_aaaabb", "20261122_090000_cccccc"):
        (log_dir / f"session_{sid}.jsonl").write_text(
            json.dumps({"v": 1, "type": "session_start", "seq": 1, "model": "m", "tools": []}) + "\n", encoding="utf-8")
    llm = scripted_llm([])
    ambiguous = run_hermes("-p", "hi", "--resume", "20261121_101010_aaaa", *endpoint_flags(llm))
    assert ambiguous.returncode == 2 and ambiguous.stderr.count("\n") == 1
    assert "matches 2 sessions" in ambiguous.stderr and "20261121_101010_aaaabb" in ambiguous.stderr
    missing = run_hermes("-p", "hi", "--resume", "1999", *endpoint_flags(llm))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no session '1999'" in missing.stderr and "20261122_090000_cccccc" in missing.stderr
    assert llm.calls == 0


def test_continue_without_sessions_is_a_usage_error(scripted_llm):
    result = run_hermes("-p", "hi", "--continue", *endpoint_flags(scripted_llm([])))
    assert result.returncode == 2 and "no earlier session" in result.stderr


def test_continue_picks_the_session_written_to_last(scripted_llm, log_dir):
    from hermes_cli.agent_factory import resolve_resume
    from hermes_cli.args import parse_args

    older = first_session(scripted_llm)
    newer = make_agent(scripted_llm([Reply(content="x")]))
    newer.chat("newer")
    newer.close()
    args = parse_args(["--continue"])
    assert resolve_resume(args, log_dir).name == f"session_{newer.session_id}.jsonl"
    older_log = log_dir / f"session_{older.session_id}.jsonl"
    later = time.time() + 5
    os.utime(older_log, (later, later))  # as if the older session had just been resumed
    assert resolve_resume(args, log_dir) == older_log
    assert resolve_resume(parse_args([]), log_dir) is None


def write_log(directory: Path, session_id: str, prompts: list[str], *, edits: list[dict] | None = None) -> None:
    events = [{"v": 1, "type": "session_start", "seq": 1, "ts": "t", "session_id": session_id, "model": "m-1",
               "tools": []}]
    for prompt in prompts:
        events.append({"v": 1, "type": "message", "seq": 0, "ts": "t", "message": {"role": "user", "content": prompt}})
        events.append({"v": 1, "type": "message", "seq": 0, "ts": "t",
                       "message": {"role": "assistant", "content": "ok " * 500}})
        events.append({"v": 1, "type": "llm_call", "seq": 0, "ts": "t", "logprobs": [{"token": "x"}] * 200})
    events.extend(edits or [])
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    (directory / f"session_{session_id}.jsonl").write_text(text, encoding="utf-8")


def test_list_sessions_newest_first_with_edits_applied(log_dir):
    log_dir.mkdir(parents=True)
    write_log(log_dir, "20261120_080000_aaaaaa", ["old one"])
    write_log(log_dir, "20261121_090000_bbbbbb", ["fix the\n  flaky test " + "please " * 30, "and again", "undone"],
              edits=[{"v": 1, "type": "history_edit", "action": "undo", "removed_count": 2}])
    write_log(log_dir, "20261122_100000_cccccc", [])  # nothing said: not listed
    write_log(log_dir, "20261123_110000_dddddd", ["<tool_response>\n{}\n</tool_response>", "real prompt"])
    # a message recorded with unusual key order (history handed in by a caller)
    with (log_dir / "session_20261123_110000_dddddd.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"v": 1, "type": "message", "message": {"content": "keys swapped", "role": "user"}}) + "\n")

    sessions = list_sessions(log_dir)
    assert [s.session_id for s in sessions] == ["20261123_110000_dddddd", "20261121_090000_bbbbbb",
                                                "20261120_080000_aaaaaa"]
    newest, middle, _ = sessions
    assert newest.first_prompt == "real prompt" and newest.user_turns == 2
    assert middle.user_turns == 2 and middle.model == "m-1" and middle.started == datetime(2026, 11, 21, 9, 0, 0)
    assert middle.first_prompt.startswith("fix the flaky test please") and len(middle.first_prompt) == 80
    assert middle.path == log_dir / "session_20261121_090000_bbbbbb.jsonl"
    assert [s.session_id for s in list_sessions(log_dir, limit=1)] == ["20261123_110000_dddddd"]
    for summary in sessions:  # the fast scan agrees with the full replay
        full = load_session(summary.path)
        assert (summary.user_turns, summary.model) == (full.user_turns, full.model)


def test_list_sessions_matches_real_agent_logs(scripted_llm, log_dir):
    old = first_session(scripted_llm)
    agent = make_agent(scripted_llm([Reply(content="summary please")]), resume=log_dir / f"session_{old.session_id}.jsonl")
    agent.undo()
    agent.close()
    (summary,) = list_sessions(log_dir)
    assert (summary.session_id, summary.first_prompt, summary.user_turns) == (old.session_id, "What is 6*7?", 1)


@pytest.mark.parametrize("missing", [True, False])
def test_list_sessions_on_missing_or_empty_dir(tmp_path, missing):
    directory = tmp_path / "logs"
    if not missing:
        directory.mkdir()
    assert list_sessions(directory) == []


def test_all_sessions_knows_the_mode_and_rereads_only_changed_logs(scripted_llm, log_dir):
    from recording import reader

    llm = scripted_llm([Reply(content="one"), Reply(content="two")])
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"],
                    mode="oneshot")
    agent.chat("first question")
    (summary,) = reader.all_sessions(log_dir)
    assert summary.mode == "oneshot" and not summary.is_chat and summary.user_turns == 1
    assert reader.all_sessions(log_dir)[0] is summary  # unchanged: not read again
    agent.chat("second question")
    agent.close()
    assert reader.all_sessions(log_dir)[0].user_turns == 2


def test_resuming_makes_an_old_world_readable_log_private(scripted_llm, log_dir):
    llm = scripted_llm([Reply(content="one"), Reply(content="two")])
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"])
    agent.chat("first question")
    agent.close()
    log = log_dir / f"session_{agent.session_id}.jsonl"
    log.chmod(0o644)  # as an older hermes left it
    (log_dir / f"session_{agent.session_id}.json").chmod(0o644)
    again = AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"],
                    resume=log)
    again.chat("second question")
    again.close()
    assert [oct(p.stat().st_mode & 0o777) for p in sorted(log_dir.glob("session_*"))] == ["0o600", "0o600"]
