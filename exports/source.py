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
from recording.redact import REDACTED
from recording.requests import CallView, RequestContext


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
    def context(self) -> RequestContext:
        """The system prompt and tools in force at the end of the log (recording/requests.py)."""
        return self.session.context

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.context.tool_list

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.session.messages

    @property
    def system_prompt(self) -> str:
        """The recorded (non-ephemeral) system prompt in force at the end; the ephemeral text is
        never in the log."""
        return self.context.system_prompt

    @property
    def calls(self) -> list[CallView]:
        """Every model call with the request it answered, in log order (numbers unique per session)."""
        return self.session.calls

    @cached_property
    def reply_calls(self) -> dict[int, CallView]:
        """id(assistant message) -> the call that produced it."""
        return {id(v.reply): v for v in self.session.calls if v.reply is not None}

    @cached_property
    def final_positions(self) -> dict[int, int]:
        """id(message) -> its index in the final history."""
        return {id(m): i for i, m in enumerate(self.session.messages)}

    def final_index(self, view: CallView) -> int | None:
        """Where this call's reply sits in the final history, if that history still starts with
        exactly what the call was sent (no compaction rewrote it since); else None."""
        if view.reply is None:
            return None
        index = self.final_positions.get(id(view.reply))
        if index is None or index != len(view.messages) or self.history_changed_before(view.event, index):
            return None
        return index

    def view_redacted(self, view: CallView) -> bool:
        """The request of this call held text redaction touched (its ids would spell a secret)."""
        if REDACTED in view.context.system_prompt:
            return True
        index = self.final_index(view)
        if index is not None:
            first = self.first_redacted
            return first is not None and first < index
        return any(REDACTED in json.dumps(m, ensure_ascii=False) for m in view.messages)

    @cached_property
    def had_ephemeral_prompt(self) -> bool:
        """Some request of this session also held ephemeral system text, which the log never
        holds: prompt ids the server returned for it must not be exported."""
        events = [self.session.start, *self.session.resumes]
        return any(e.get("ephemeral_system_prompt") for e in events) or any(
            c.get("ephemeral_prompt") for c in self.session.llm_calls)

    @cached_property
    def first_redacted(self) -> int | None:
        """Index of the first message redaction touched (-1: the system prompt), else None.

        The log's text is redacted, token ids cannot be: ids covering such a message would still
        spell the secret, so they are never exported."""
        if REDACTED in self.system_prompt:
            return -1
        for index, message in enumerate(self.messages):
            if REDACTED in json.dumps(message, ensure_ascii=False):
                return index
        return None

    def server_prompt_ids(self, call: dict[str, Any]) -> list[int] | None:
        """The prompt ids the server returned for `call`, if they may be exported."""
        ids = call.get("prompt_token_ids")
        if not isinstance(ids, list) or self.had_ephemeral_prompt:
            return None
        first = self.first_redacted
        if first is not None and first < int(call.get("prompt_messages") or 0):
            return None
        return ids

    def server_completion_ids(self, call: dict[str, Any], message_index: int) -> list[int] | None:
        """The completion ids the server returned for the message at `message_index`, if exportable."""
        ids = call.get("completion_token_ids")
        if not isinstance(ids, list):
            return None
        if REDACTED in json.dumps(self.messages[message_index], ensure_ascii=False):
            return None
        return ids

    def server_completion_ids_of(self, call: dict[str, Any], reply: dict[str, Any] | None) -> list[int] | None:
        """The completion ids the server returned for `reply`, if exportable (no redacted text)."""
        ids = call.get("completion_token_ids")
        if not isinstance(ids, list) or reply is None:
            return None
        if REDACTED in json.dumps(reply, ensure_ascii=False):
            return None
        return ids

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

        Messages without one (history handed in by a caller, a log cut between the call and its
        reply) are left out.
        """
        return {i: c for i, c in enumerate(self.session.message_calls) if c is not None}

    def history_changed_before(self, call: dict[str, Any], message_index: int) -> bool:
        """The conversation before this call's reply was edited after the call (compaction), so
        rendering `messages[:message_index]` would not give the prompt the model saw."""
        seq = int(call.get("seq") or 0)
        return any(e.get("type") == "context_compressed" and int(e.get("seq") or 0) > seq
                   and int(e.get("start", 1)) < message_index for e in self.session.edits)


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
