"""The `todo` tool: replace and merge, bad lists, the stream-json event, -q's line, resume."""

from __future__ import annotations

import json

from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl, run_hermes
from tools.registry import ToolContext
from tools.todo_tool import restore, todo

KEY = "sk-test-0123456789abcdef"
PLAN = [{"id": "1", "text": "read the code", "status": "done"},
        {"id": "2", "text": "write the tests", "status": "in_progress"},
        {"id": "3", "text": "update README", "status": "pending"}]


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model"]


def test_replace_merge_read_and_refusals():
    ctx = ToolContext()
    assert json.loads(todo({}, ctx))["todos"] == []
    result = json.loads(todo({"todos": PLAN}, ctx))
    assert result["todos"] == PLAN and result["counts"] == {"pending": 1, "in_progress": 1, "done": 1}
    merged = json.loads(todo({"todos": [{"id": "2", "status": "completed"}, {"id": "4", "text": "ship",
                                                                               "status": "pending"}],
                              "merge": True}, ctx))["todos"]
    assert [(t["id"], t["status"]) for t in merged] == [("1", "done"), ("2", "done"), ("3", "pending"),
                                                       ("4", "pending")]
    assert merged[1]["text"] == "write the tests"  # merge keeps what was not given
    for bad, why in (({"todos": [{"id": "9", "text": "x", "status": "maybe"}]}, "status must be one of"),
                     ({"todos": [{"id": "9", "status": "done"}]}, "needs a text"),
                     ({"todos": [PLAN[0], PLAN[0]]}, "unique"), ({"todos": "do it"}, "must be a list")):
        answer = json.loads(todo(bad, ctx))
        assert why in answer["error"] and "unchanged" in answer["error"]
        assert answer["todos"] == merged  # a bad list is not applied
    replaced = json.loads(todo({"todos": PLAN[:1]}, ctx))["todos"]
    assert replaced == PLAN[:1]  # without merge the list is replaced


def test_restore_takes_the_last_good_result():
    call = {"id": "c1", "type": "function", "function": {"name": "todo", "arguments": "{}"}}
    messages = [{"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"todos": PLAN})},
                {"role": "assistant", "content": None, "tool_calls": [{**call, "id": "c2"}]},
                {"role": "tool", "tool_call_id": "c2", "content": json.dumps({"error": "bad", "todos": []})}]
    ctx = ToolContext()
    restore(ctx, messages)
    assert json.loads(todo({}, ctx))["todos"] == PLAN


def plan_then_answer(scripted_llm, answer: str = "done"):
    return scripted_llm([
        Reply(tool_calls=[ToolCall("todo", {"todos": PLAN})]),
        Reply(tool_calls=[ToolCall("todo", {"todos": [{"id": "2", "status": "done"}], "merge": True})]),
        Reply(content=answer),
    ])


def test_stream_json_reports_todo_events_and_the_log_records_the_calls(scripted_llm, log_dir):
    llm = plan_then_answer(scripted_llm)
    result = run_hermes("-p", "plan it", "--output-format", "stream-json", *flags(llm))
    assert result.returncode == 0, result.stderr
    events = result.json_lines()
    todos = [e for e in events if e["type"] == "todo"]
    assert [(t["done"], t["total"]) for t in todos] == [(1, 3), (2, 3)]
    assert todos[0]["todos"] == PLAN
    kinds = [e["type"] for e in events]
    assert kinds.index("todo") == kinds.index("tool_end") + 1  # right after its call's result
    assert "todo" in events[0]["tools"]  # on by default
    logged = [e["message"] for e in read_jsonl(next(log_dir.glob("session_*.jsonl"))) if e["type"] == "message"]
    assert [c["function"]["name"] for c in logged[1]["tool_calls"]] == ["todo"]
    assert json.loads(logged[2]["content"])["todos"] == PLAN


def test_quiet_progress_prints_one_compact_line_and_resume_keeps_the_list(scripted_llm):
    llm = plan_then_answer(scripted_llm)
    result = run_hermes("-q", "plan it", *flags(llm))
    assert result.returncode == 0, result.stderr
    assert "    todo 1/3 done · ◐ write the tests\n" in result.stderr
    assert "    todo 2/3 done\n" in result.stderr
    # --continue: the model reads its list back as the session left it
    llm = scripted_llm([Reply(tool_calls=[ToolCall("todo", {})]), Reply(content="ok")])
    assert run_hermes("-p", "where were we?", "--continue", *flags(llm)).returncode == 0
    read = json.loads(llm.chat_requests[1].body["messages"][-1]["content"])
    assert [t["status"] for t in read["todos"]] == ["done", "done", "pending"]
