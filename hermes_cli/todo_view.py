"""How the `todo` tool's list is shown: a few lines in the REPL, one line for `-q`, an event for
stream-json. Everything here reads the tool's JSON result; nothing keeps state."""

from __future__ import annotations

import json
from typing import Any

MARKS = {"pending": "☐", "in_progress": "◐", "done": "☑"}
SHOWN = 8  # items the REPL lists; the rest are counted


def todos_of(name: str, result: str) -> list[dict[str, str]] | None:
    """The list a successful `todo` call returned, else None."""
    if name != "todo":
        return None
    try:
        data = json.loads(result)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or "error" in data or not isinstance(data.get("todos"), list):
        return None
    return [t for t in data["todos"] if isinstance(t, dict)]


def lines(todos: list[dict[str, Any]], shown: int = SHOWN) -> list[str]:
    """`☑ done thing` / `◐ current thing` / `☐ next thing`, the finished ones first as the model ordered them."""
    if not todos:
        return ["(task list cleared)"]
    out = [f"{MARKS.get(str(t.get('status')), '☐')} {t.get('text', '')}" for t in todos[:shown]]
    if len(todos) > shown:
        out.append(f"… {len(todos) - shown} more")
    return out


def compact(todos: list[dict[str, Any]]) -> str:
    """One line: `todo 2/5 done · ◐ writing the tests`."""
    done = sum(1 for t in todos if t.get("status") == "done")
    line = f"todo {done}/{len(todos)} done"
    active = [str(t.get("text", "")) for t in todos if t.get("status") == "in_progress"]
    if active:
        line += f" · ◐ {active[0]}"
    return line


def event(todos: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream-json `todo` event."""
    done = sum(1 for t in todos if t.get("status") == "done")
    return {"type": "todo", "todos": todos, "done": done, "total": len(todos)}
