"""Reading session event logs back: for resume, /sessions and exports.

A log cut by a kill -9 may end in half a line; that line is skipped, everything before it is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_GLOB = "session_*.jsonl"


def iter_events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # the write in flight when the process died
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


@dataclass
class Session:
    session_id: str
    path: Path
    start: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def model(self) -> str | None:
        return self.start.get("model")

    @property
    def first_prompt(self) -> str:
        for message in self.messages:
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
        return ""

    @property
    def user_turns(self) -> int:
        return sum(1 for m in self.messages if m.get("role") == "user" and not _is_tool_text(m))


def _is_tool_text(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, str) and content.startswith("<tool_response>")


def session_id_of(path: Path) -> str:
    return path.name.removeprefix("session_").removesuffix(".jsonl")


def load_session(path: Path) -> Session:
    session = Session(session_id_of(path), path)
    for event in iter_events(path):
        kind = event.get("type")
        if kind == "session_start":
            session.start = event
        elif kind == "message":
            session.messages.append(event["message"])
        elif kind == "llm_call":
            session.llm_calls.append(event)
        elif kind == "session_end":
            session.end = event
    return session


def session_logs(directory: Path) -> list[Path]:
    """Event logs, newest first (session ids start with a timestamp)."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(LOG_GLOB), key=lambda p: p.name, reverse=True)


def find_session(directory: Path, id_or_prefix: str) -> Path:
    """The log whose id equals or uniquely starts with `id_or_prefix`; ValueError otherwise."""
    logs = session_logs(directory)
    exact = [p for p in logs if session_id_of(p) == id_or_prefix]
    if exact:
        return exact[0]
    matches = [p for p in logs if session_id_of(p).startswith(id_or_prefix)]
    if not matches:
        raise ValueError(f"no session '{id_or_prefix}' in {directory}")
    if len(matches) > 1:
        shown = ", ".join(session_id_of(p) for p in matches[:5])
        raise ValueError(f"'{id_or_prefix}' matches {len(matches)} sessions ({shown}); give more of the id")
    return matches[0]
