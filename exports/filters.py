"""Which sessions an export takes: completed runs only, by model (glob), by start date."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date, datetime, time

from agent.errors import ConfigError
from exports.source import Trajectory


def parse_when(text: str, *, end: bool = False) -> datetime:
    """`2026-11-21` (the whole day: its start, or its end when `end`) or an ISO date-time."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min)
        return datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from None


@dataclass
class SessionFilter:
    completed_only: bool = False
    models: list[str] = field(default_factory=list)  # globs, e.g. "anthropic/*"
    since: datetime | None = None
    until: datetime | None = None

    def reason_to_skip(self, trajectory: Trajectory) -> str | None:
        """None when the session is exported, else a short reason (counted in the summary)."""
        if not trajectory.messages:
            return "empty"
        if self.completed_only and not trajectory.completed:
            return "not completed"
        if self.models and not any(fnmatch.fnmatchcase(trajectory.model, pattern) for pattern in self.models):
            return "other model"
        if self.since or self.until:
            started = trajectory.started_at
            if started is None:
                return "no start time"
            started = started.replace(tzinfo=None)
            if self.since and started < self.since.replace(tzinfo=None):
                return "before --since"
            if self.until and started > self.until.replace(tzinfo=None):
                return "after --until"
        return None
