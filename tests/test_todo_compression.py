"""The model's task list survives context compression: the summary carries the list as it stood, so
/undo, /retry, /rewind and a resume after a compression rebuild it as it was before the undone turn,
not empty because the `todo` calls were summarised away. Real agent, real scripted server."""

from __future__ import annotations

import json
from pathlib import Path

from agent.rewind import rewind
from agent.settings import load_settings
from recording.reader import load_session
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.test_compression import SUMMARY, is_summary_request
from tools import todo_tool
from tools.registry import ToolContext

PLAN = [{"id": "1", "text": "read the code", "status": "done"},
        {"id": "2", "text": "write the tests", "status": "in_progress"},
        {"id": "3", "text": "update README", "status": "pending"}]
LATER = [{"id": "2", "status": "done"}, {"id": "3", "status": "in_progress"}]


class Script:
    """Summary requests get SUMMARY (or an echo of the note, see below); the rest come from a queue."""

    def __init__(self, replies: list[Reply], summary: Reply | None = None) -> None:
        self.replies, self.summary = list(replies), summary or Reply(content=SUMMARY)

    def __call__(self, body: dict, index: int) -> Reply:
        if is_summary_request(body):
            return self.summary
        return self.replies.pop(0) if self.replies else Reply(content="ok")


def plan_turn() -> list[Reply]:
    return [Reply(tool_calls=[ToolCall("todo", {"todos": PLAN})]), Reply(content="planned")]


def work_turn(n: int) -> list[Reply]:
    return [Reply(tool_calls=[ToolCall("terminal", {"command": f"echo step{n}"})]), Reply(content=f"answer {n}")]


def update_turn() -> list[Reply]:
    return [Reply(tool_calls=[ToolCall("todo", {"todos": LATER, "merge": True})]), Reply(content="updated")]


READ = [Reply(tool_calls=[ToolCall("todo", {})]), Reply(content="read")]


def make_agent(llm, work: Path | None = None) -> AIAgent:
    settings = load_settings(read_files=False)
    if work is not None:
        settings.terminal.cwd = str(work)
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", settings=settings,
                   enabled_toolsets=["terminal", "todo"], approval_mode="yolo")


def statuses(todos: list[dict]) -> list[str]:
    return [t["status"] for t in todos]


def last_todo_result(llm) -> list[dict]:
    tool = [m for m in llm.chat_requests[-1].body["messages"] if m["role"] == "tool"][-1]
    return json.loads(tool["content"])["todos"]


def planned_then_compressed(agent: AIAgent) -> None:
    """Turn 1 writes the plan, turns 2-4 run commands; compression then summarises turn 1 away."""
    for prompt in ("plan it", "step 2", "step 3", "step 4"):
        agent.chat(prompt)
    assert agent.compress("test") is not None
    assert not any(c["function"]["name"] == "todo" for m in agent.messages for c in m.get("tool_calls") or [])
    assert statuses(todo_tool.current(agent.tool_context)) == ["done", "in_progress", "pending"]


def test_undo_after_compression_restores_the_list_as_it_was_before_the_turn(scripted_llm, log_dir):
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), *update_turn(), *READ]))
    agent = make_agent(llm)
    planned_then_compressed(agent)
    agent.chat("mark progress")
    assert statuses(todo_tool.current(agent.tool_context)) == ["done", "done", "in_progress"]

    assert agent.undo()
    assert todo_tool.current(agent.tool_context) == PLAN  # before the fix: [] (the plan was summarised)
    agent.chat("what is on the list?")
    assert last_todo_result(llm) == PLAN  # what the model reads back
    agent.close()

    # a resumed session rebuilds the same list from its log
    ctx = ToolContext()
    todo_tool.restore(ctx, load_session(log_dir / f"session_{agent.session_id}.jsonl").messages)
    assert todo_tool.current(ctx) == PLAN


def test_the_next_request_tells_the_model_its_list(scripted_llm):
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), Reply(content="ok")]))
    agent = make_agent(llm)
    planned_then_compressed(agent)
    agent.chat("go on")
    summary = [m for m in llm.chat_requests[-1].body["messages"] if m["role"] == "user"][1]["content"]
    assert summary.startswith(f"[Summary of earlier conversation: {SUMMARY}]")
    assert "write the tests" in summary and "in_progress" in summary
    agent.close()


def test_retry_after_compression_keeps_the_list(scripted_llm):
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), *update_turn(), *READ]))
    agent = make_agent(llm)
    planned_then_compressed(agent)
    agent.chat("mark progress")
    assert agent.retry() == "mark progress"
    assert todo_tool.current(agent.tool_context) == PLAN
    agent.close()


def test_rewind_after_compression_restores_the_list(scripted_llm, tmp_path):
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), *update_turn(),
                               *work_turn(6)]))
    agent = make_agent(llm, tmp_path)
    planned_then_compressed(agent)
    agent.chat("mark progress")
    agent.chat("step 6")
    rewind(agent, 5, "chat")  # back to before "mark progress"
    assert todo_tool.current(agent.tool_context) == PLAN
    agent.close()


def test_a_second_compression_carries_the_list_on_and_an_echoed_note_does_not_win(scripted_llm):
    """The summariser sees the first summary's note; if it copies a stale list into its own text,
    the note hermes appends (the list as it stands) still decides."""
    stale = [{"id": "1", "text": "stale", "status": "pending"}]
    echo = Reply(content=f"{SUMMARY}\n\n[Task list (todo tool) when this summary was made: {json.dumps(stale)}]")
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), *update_turn(),
                               *work_turn(6), *work_turn(7), *work_turn(8), *update_turn(), *READ], summary=echo))
    agent = make_agent(llm)
    planned_then_compressed(agent)
    agent.chat("mark progress")
    for prompt in ("step 6", "step 7", "step 8"):
        agent.chat(prompt)
    assert agent.compress("again") is not None
    assert statuses(todo_tool.current(agent.tool_context)) == ["done", "done", "in_progress"]
    agent.chat("mark again")  # the merge changes nothing, but it is a turn to undo
    agent.undo()
    assert statuses(todo_tool.current(agent.tool_context)) == ["done", "done", "in_progress"]
    agent.close()


def test_no_todo_use_adds_no_note(scripted_llm):
    llm = scripted_llm(Script([*work_turn(1), *work_turn(2), *work_turn(3), *work_turn(4)]))
    agent = make_agent(llm)
    for n in range(4):
        agent.chat(f"step {n}")
    assert agent.compress("test") is not None
    assert agent.messages[1]["content"] == f"[Summary of earlier conversation: {SUMMARY}]"
    agent.close()


def test_a_failed_summary_that_drops_messages_keeps_the_list_too(scripted_llm):
    llm = scripted_llm(Script([*plan_turn(), *work_turn(2), *work_turn(3), *work_turn(4), *update_turn()],
                              summary=Reply(status=400)))
    agent = make_agent(llm)
    for prompt in ("plan it", "step 2", "step 3", "step 4"):
        agent.chat(prompt)
    agent.context.window = 900  # a smaller model: the oldest messages must go
    agent.context.forget()  # measured by estimate, tool schemas included (≈1,040 tokens)
    result = agent.compress("manual")
    assert result is not None and result.summary is None and result.replaced_count >= 3
    assert agent.messages[1]["content"].startswith("[Earlier conversation omitted:")
    agent.context.window = 100_000
    agent.chat("mark progress")
    agent.undo()
    assert todo_tool.current(agent.tool_context) == PLAN
    agent.close()
