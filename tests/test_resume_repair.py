"""Issue 15 item 1: a session killed mid-tool-call resumes into a valid conversation, and a session in
use by one process is refused to another (real processes, real signals, a strict endpoint)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from agent.session_resume import INTERRUPTED_RESULT, answer_unanswered
from recording.reader import load_session
from scripted_server import Reply, ToolCall
from scripted_server.strict import check_request
from tests.conftest import HERMES, read_jsonl, run_hermes
from tests.test_cli_signals import host_pids, wait_for
from tests.tools.proc_util import kill_quietly


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


def test_sigkill_during_a_tool_call_then_continue_is_valid_on_a_strict_endpoint(scripted_llm, log_dir, tmp_path):
    pidfile, nap = tmp_path / "pid", f"30.{os.getpid()}7"
    first = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"echo $$ > {pidfile}; exec sleep {nap}"},
                                                     id="call_kill")]), Reply(content="never")])
    proc = subprocess.Popen([sys.executable, str(HERMES), "-p", "nap", *flags(first)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
        assert wait_for(lambda: bool(host_pids([nap])))
        [log] = log_dir.glob("session_*.jsonl")

        # The session is in use: a second process resuming it is refused in one line, the log untouched.
        before = log.read_bytes()
        busy = run_hermes("-p", "me too", "--continue", *flags(scripted_llm([Reply(content="no")])))
        assert busy.returncode == 2, busy.stderr
        lines = busy.stderr.strip().splitlines()
        assert len(lines) == 1 and "in use by another hermes process" in lines[0], busy.stderr
        assert log.read_bytes() == before

        proc.send_signal(signal.SIGKILL)  # the log now ends in tool_calls without results
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
        kill_quietly(host_pids([nap]))  # SIGKILL leaves the command running (issue 15 item 2)
    assert [e["type"] for e in read_jsonl(log)][-1] == "message"

    strict = scripted_llm([Reply(content="It was interrupted; shall I retry?")], strict=True)
    result = run_hermes("-p", "what happened?", "--continue", *flags(strict))
    assert (result.returncode, result.stdout) == (0, "It was interrupted; shall I retry?\n"), result.stderr
    assert strict.rejections == []
    [request] = strict.chat_requests
    assert check_request(request.body) is None
    sent = [m for m in request.body["messages"] if m["role"] != "system"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2]["tool_call_id"] == "call_kill" and '"interrupted": true' in sent[2]["content"]

    events = read_jsonl(log)
    [repair] = [e for e in events if e["type"] == "interrupted"]
    assert repair["tool_call_ids"] == ["call_kill"] and "resume" in repair["reason"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    session = load_session(log)
    assert session.messages == [*sent, {"role": "assistant", "content": "It was interrupted; shall I retry?"}]
    assert session.end is not None

    # Resuming again adds nothing: the repair is in the log.
    again = scripted_llm([Reply(content="ok")], strict=True)
    assert run_hermes("-p", "again", "--continue", *flags(again)).returncode == 0
    assert strict.rejections == again.rejections == []
    assert len([e for e in read_jsonl(log) if e["type"] == "interrupted"]) == 1


def call(call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": "terminal", "arguments": "{}"}}


def test_unanswered_calls_get_a_result_right_after_their_answered_siblings():
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call("a"), call("b")]},
        {"role": "tool", "tool_call_id": "a", "content": "done"},
        {"role": "user", "content": "later"},  # a log resumed on a lenient endpoint before the repair
        {"role": "assistant", "content": None, "tool_calls": [call("c")]},
    ]
    repaired, added = answer_unanswered(messages)
    assert added == 2
    assert [(m["role"], m.get("tool_call_id")) for m in repaired] == [
        ("user", None), ("assistant", None), ("tool", "a"), ("tool", "b"), ("user", None), ("assistant", None),
        ("tool", "c")]
    assert repaired[3]["content"] == repaired[6]["content"] == INTERRUPTED_RESULT
    assert answer_unanswered(repaired) == (repaired, 0)
    assert check_request({"model": "m", "messages": repaired}) is None
