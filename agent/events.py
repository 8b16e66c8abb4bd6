"""Events the agent loop emits so a UI (REPL, one-shot, stream-json) can render progress.

The loop never prints; it calls `on_event(event)` with one of these. Handlers may be called from
tool worker threads, so they must be thread-safe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    type: str = "text"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str
    type: str = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolStart:
    call_id: str
    name: str
    arguments: dict[str, Any]
    type: str = "tool_start"


@dataclass(frozen=True, slots=True)
class ToolEnd:
    call_id: str
    name: str
    result: str
    duration: float
    ok: bool
    type: str = "tool_end"


@dataclass(frozen=True, slots=True)
class Retrying:
    attempt: int
    max_attempts: int
    delay: float
    error: str
    type: str = "retry"


@dataclass(frozen=True, slots=True)
class StreamReset:
    """Text already streamed for this call is void (the call failed and will be retried)."""

    type: str = "stream_reset"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that is not model output (loop stopped, turn limit, ...)."""

    text: str
    type: str = "notice"


@dataclass(frozen=True, slots=True)
class Warn:
    """A problem that does not stop the run (the session log cannot be written, ...): one line,
    shown even by the quiet `-p` output."""

    text: str
    type: str = "warning"


Event = TextDelta | ReasoningDelta | ToolStart | ToolEnd | Retrying | StreamReset | Notice | Warn


def event_to_dict(event: Event) -> dict[str, Any]:
    return asdict(event)
