"""What the REPL shows and restores when it resumes a session (--continue, --resume, /resume)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RECAP_EXCHANGES = 3  # the last few exchanges, not the whole conversation (/history has it)


def resumed_text(agent: Any) -> str:
    from agent.session_resume import recap

    return (f"resumed session {agent.session_id} ({len(agent.messages)} messages)\n"
            + recap(agent.messages, exchanges=RECAP_EXCHANGES))


def logged_usage(path: Path) -> tuple[dict[str, float], int]:
    """(token usage summed over every model call the log records, the number of calls), so the
    toolbar and /usage go on from where the session was, not from 0."""
    from recording.reader import iter_events

    usage: dict[str, float] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    calls = 0
    for event in iter_events(path):
        if event.get("type") != "llm_call":
            continue
        calls += 1
        for key, value in (event.get("usage") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                usage[key] = usage.get(key, 0) + value
    return usage, calls


def restore_usage(agent: Any, path: Path) -> None:
    usage, calls = logged_usage(path)
    for key, value in usage.items():
        agent.usage[key] = agent.usage.get(key, 0) + value
    agent.api_calls += calls


def exit_lines(agent: Any, log_dir: Path) -> str:
    """Where the session was saved and, once it has a turn, how to pick it up again."""
    from recording.reader import is_prompt

    text = f"session saved: {log_dir / f'session_{agent.session_id}.jsonl'}"
    if any(is_prompt(m) for m in agent.messages):
        text += f"\ncontinue it with: hermes --continue  (or hermes --resume {agent.session_id})"
    return text
