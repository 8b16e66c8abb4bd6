"""One session log, read once, with what every exporter needs.

Conversations come from `recording.reader.load_session` (so resume/undo/compaction handling lives in
one place); event types this module does not know are ignored. The one extra pass over the file
picks out `run_end` lines, which say whether the session's last run finished normally.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from recording.reader import LOG_GLOB, Session, load_session


@dataclass
class Trajectory:
    session: Session
    run_statuses: list[str] = field(default_factory=list)
    finished_at: str | None = None  # ts of the last run_end (else session_end, else start)

    @property
    def session_id(self) -> str:
        return self.session.start.get("session_id") or self.session.session_id

    @property
    def model(self) -> str:
        return self.session.model or next((c.get("model") for c in self.session.llm_calls if c.get("model")), "") or ""

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.session.start.get("tools") or []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.session.messages

    @property
    def system_prompt(self) -> str:
        """The recorded (non-ephemeral) system prompt; the ephemeral text is never in the log."""
        return self.session.start.get("system_prompt") or ""

    @property
    def had_ephemeral_prompt(self) -> bool:
        """The system message sent also held ephemeral text, so server prompt ids contain it."""
        return bool(self.session.start.get("ephemeral_system_prompt"))

    @property
    def completed(self) -> bool:
        return bool(self.run_statuses) and self.run_statuses[-1] == "success"

    @property
    def status(self) -> str | None:
        return self.run_statuses[-1] if self.run_statuses else None

    @cached_property
    def started_at(self) -> datetime | None:
        ts = self.session.start.get("ts")
        if ts:
            try:
                return datetime.fromisoformat(ts)
            except ValueError:
                pass
        try:  # session ids start with YYYYMMDD_HHMMSS
            return datetime.strptime(self.session.session_id[:15], "%Y%m%d_%H%M%S")
        except ValueError:
            return None

    @cached_property
    def call_for_message(self) -> dict[int, dict[str, Any]]:
        """Index of each assistant message -> the llm_call event that produced it.

        A call whose `prompt_messages` does not point at an assistant message (a log changed
        by undo or compaction, or cut before the reply was written) is left out.
        """
        out: dict[int, dict[str, Any]] = {}
        messages = self.messages
        for call in self.session.llm_calls:
            index = call.get("prompt_messages")
            if isinstance(index, int) and 0 <= index < len(messages) and messages[index].get("role") == "assistant":
                out.setdefault(index, call)
        return out


def _scan_run_ends(path: Path) -> tuple[list[str], str | None]:
    """Statuses of run_end events in order, and the time the session last finished something."""
    statuses: list[str] = []
    finished: str | None = None
    with path.open("rb") as fh:
        for line in fh:
            if b'"run_end"' not in line and b'"session_end"' not in line:
                continue  # cheap test on bytes: most lines are messages and calls
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "run_end":
                statuses.append(str(event.get("status")))
                finished = event.get("ts") or finished
            elif event.get("type") == "session_end" and finished is None:
                finished = event.get("ts")
    return statuses, finished


def load_trajectory(path: Path) -> Trajectory:
    session = load_session(path)
    statuses, finished = _scan_run_ends(path)
    return Trajectory(session, statuses, finished or session.start.get("ts"))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Event logs named directly or found in directories (recursively), oldest first."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.extend(sorted(path.rglob(LOG_GLOB), key=lambda p: p.name))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{raw}: no such file or directory")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def iter_trajectories(paths: Iterable[Path]) -> Iterator[tuple[Path, Trajectory]]:
    for path in paths:
        yield path, load_trajectory(path)
