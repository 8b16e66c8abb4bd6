"""The `todo` tool: a short task list the model keeps while it works (Claude Code's TodoWrite, Hermes'
todo). The list lives with the agent's tool context; the front ends show it after each update
(hermes_cli/todo_view.py), and a resumed session gets it back from its last `todo` result.

    todo(todos=[{"id": "1", "text": "read the code", "status": "done"}, ...])            replace the list
    todo(todos=[{"id": "2", "status": "in_progress"}], merge=true)                     update by id, add new
    todo()                                                                              read it
"""

from __future__ import annotations

import json
import threading
from typing import Any

from recording.reader import is_summary
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

STATUSES = ("pending", "in_progress", "done")
ALIASES = {"completed": "done", "complete": "done", "finished": "done", "in-progress": "in_progress",
           "active": "in_progress", "todo": "pending", "not_started": "pending"}
MAX_ITEMS = 30
MAX_TEXT = 200
_KEY = "todo"
_LOCK = threading.Lock()

DESCRIPTION = (
    "Your task list for multi-step work, shown to the user. Write the whole list, or with merge=true "
    "update items by id. Keep one in_progress; mark done at once. No args: read it."
)

PARAMETERS = {
    "type": "object",
    "properties": {
        "todos": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "text": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)}}, "required": ["id", "status"]}},
        "merge": {"type": "boolean"},
    },
}


def current(ctx: ToolContext) -> list[dict[str, str]]:
    """The list as it stands (a copy)."""
    with _LOCK:
        return [dict(item) for item in ctx.extra.get(_KEY, [])]


def _item(raw: Any, old: dict[str, str] | None) -> dict[str, str]:
    """One checked item; ValueError says what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("each todo item must be an object with id, text and status")
    item_id = raw.get("id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise ValueError("each todo item needs an id (a short string)")
    text = raw.get("text", raw.get("content"))  # `content`: TodoWrite's name for it
    if text is None and old is not None:
        text = old["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"todo item {item_id!r} needs a text")
    status = str(raw.get("status") or (old or {}).get("status") or "pending").strip().lower()
    status = ALIASES.get(status, status)
    if status not in STATUSES:
        raise ValueError(f"todo item {item_id!r}: status must be one of {', '.join(STATUSES)}, not {status!r}")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return {"id": item_id.strip(), "text": text, "status": status}


def update(ctx: ToolContext, todos: Any, merge: bool = False) -> list[dict[str, str]]:
    """Write the list (replace, or merge by id); ValueError for an invalid list, which is not applied."""
    if not isinstance(todos, list):
        raise ValueError("todos must be a list of items")
    with _LOCK:
        old = {item["id"]: item for item in ctx.extra.get(_KEY, [])}
        items = [_item(raw, old.get(str(raw.get("id"))) if merge and isinstance(raw, dict) else None)
                 for raw in todos]
        if merge:
            given = {item["id"]: item for item in items}
            merged = [given.pop(item_id, item) for item_id, item in old.items()]
            items = merged + list(given.values())
        ids = [item["id"] for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("todo ids must be unique")
        if len(items) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_ITEMS} todo items; merge or drop finished ones")
        ctx.extra[_KEY] = items
        return [dict(item) for item in items]


def counts(items: list[dict[str, str]]) -> dict[str, int]:
    return {status: sum(1 for item in items if item["status"] == status) for status in STATUSES}


def todo(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        items = current(ctx) if args.get("todos") is None else update(ctx, args["todos"], bool(args.get("merge")))
    except ValueError as exc:
        return tool_error(f"{exc} (the list is unchanged)", todos=current(ctx))
    return tool_result(todos=items, counts=counts(items))


# Compression (agent/compression.py) summarises the `todo` calls away with the rest; the summary
# message ends with this note of the list as it stood, so the model still knows its list and every
# rebuild below (resume, /undo, /retry, /rewind) finds it in the history that remains.
NOTE_PREFIX = "\n\n[Task list (todo tool) when this summary was made: "


def note(todos: list[dict[str, str]]) -> str:
    """The note a summary message ends with: the list as JSON."""
    return f"{NOTE_PREFIX}{json.dumps(todos, ensure_ascii=False)}]"


def _noted(content: Any) -> list[dict[str, str]] | None:
    """The list a summary's closing note holds (only the last note counts: hermes appends it after the
    model's text, so a list the summariser copied into its text never wins), else None."""
    if not isinstance(content, str) or not content.endswith("]") or (at := content.rfind(NOTE_PREFIX)) < 0:
        return None
    try:
        todos = json.loads(content[at + len(NOTE_PREFIX):-1])
    except ValueError:
        return None
    return todos if isinstance(todos, list) else None


def state_of(messages: list[dict[str, Any]]) -> list[dict[str, str]] | None:
    """The list `messages` leave: the last successful `todo` result or summary note in them; None when
    they hold neither (the list was never written)."""
    todo_calls: set[str] = set()
    latest: list[dict[str, str]] | None = None
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and (call.get("function") or {}).get("name") == "todo":
                todo_calls.add(str(call.get("id")))
        role = message.get("role")
        if role == "user" and is_summary(message) and (noted := _noted(message.get("content"))) is not None:
            latest = noted
        elif role == "tool" and str(message.get("tool_call_id")) in todo_calls:
            try:
                data = json.loads(message.get("content") or "")
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict) and "error" not in data and isinstance(data.get("todos"), list):
                latest = data["todos"]
    return None if latest is None else [dict(item) for item in latest if isinstance(item, dict)]


def restore(ctx: ToolContext, messages: list[dict[str, Any]]) -> None:
    """Set the list to what `messages` left it (state_of), else empty.
    Used on resume, and after every history edit (/new, /undo, /retry, /rewind), so the list never
    outlives the exchange that wrote it."""
    latest = state_of(messages)
    with _LOCK:
        ctx.extra[_KEY] = latest or []


TOOL = register(Tool(name="todo", toolset="todo", description=DESCRIPTION, parameters=PARAMETERS, handler=todo,
                     quick=True))
