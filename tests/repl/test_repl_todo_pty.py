"""The model's task list follows the conversation in the real REPL: /new empties it, /undo and /retry
put it back to what the remaining history left (the same rebuild a resumed session gets)."""

from __future__ import annotations

import json

from scripted_server import Reply, ToolCall
from tests.repl.test_repl_pty import repl_factory  # noqa: F401 (fixture)


def _write(*items: tuple[str, str, str], merge: bool = False) -> Reply:
    todos = [{"id": i, "text": t, "status": s} for i, t, s in items]
    return Reply(tool_calls=[ToolCall("todo", {"todos": todos, "merge": merge})])


READ = Reply(tool_calls=[ToolCall("todo", {})])


def _last_todo_result(llm) -> list[dict]:
    tool = [m for m in llm.chat_requests[-1].body["messages"] if m["role"] == "tool"][-1]
    return json.loads(tool["content"])["todos"]


def test_new_empties_the_task_list(repl_factory):  # noqa: F811
    llm, repl = repl_factory([_write(("1", "alpha task", "in_progress"), ("2", "beta task", "pending")),
                              Reply(content="planned"), READ, Reply(content="read it")])
    out = repl.output_of("plan it")
    assert "◐ alpha task" in out and "☐ beta task" in out
    assert "new session" in repl.output_of("/new")
    out = repl.output_of("what is on the list?")
    assert "(task list cleared)" in out and "alpha task" not in out
    assert _last_todo_result(llm) == []
    assert repl.quit() == 0


def test_undo_and_retry_restore_the_list_of_the_remaining_history(repl_factory):  # noqa: F811
    llm, repl = repl_factory([
        _write(("1", "gamma task", "in_progress")), Reply(content="one"),
        _write(("1", "gamma task", "done"), ("2", "delta task", "in_progress"), merge=True), Reply(content="two"),
        READ, Reply(content="after undo"),
        _write(("9", "epsilon task", "pending")), Reply(content="three"),
        READ, Reply(content="retried"),
    ])
    repl.say("first")
    out = repl.output_of("second")
    assert "☑ gamma task" in out and "◐ delta task" in out
    assert "removed the last exchange" in repl.output_of("/undo")
    out = repl.output_of("what is on the list?")
    assert "◐ gamma task" in out and "delta task" not in out
    assert [t["text"] for t in _last_todo_result(llm)] == ["gamma task"]
    repl.say("replace it")  # the list is now epsilon only
    out = repl.output_of("/retry")  # drops "replace it" and sends it again; the model only reads
    assert "◐ gamma task" in out and "epsilon" not in out
    assert repl.quit() == 0
