"""Resuming a session: rebuild its history from the event log and keep appending to its files.

    agent = AIAgent(resume=Path("logs/session_20261121_143052_a1b2c3.jsonl"))
    print(recap(agent.messages))
    agent.chat("and then?")          # same session id, same session_<id>.jsonl and .json

The history comes from `recording.reader.load_session`, which applies undo/retry/reset and
compression, so the model sees exactly what the user last saw.

A process killed while a tool ran (SIGKILL, crash, power loss) leaves an assistant message whose
tool calls have no results; strict endpoints reject such a history with a 400 forever. On load each
unanswered call gets an "interrupted" result (the one Ctrl-C gives), and `open_recorder` records
those results plus an `interrupted` event, so the log and its exports tell what happened.
Resuming takes the session's lock first (recording/session_lock.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from recording import redact
from recording.reader import is_prompt, load_session
from recording.recorder import SessionRecorder
from recording.session_lock import lock_session
from recording.sharegpt import text_of

RECAP_CLIP = 100


@dataclass
class ResumedSession:
    session_id: str
    directory: Path
    messages: list[dict[str, Any]]
    session_start: str  # the session file's `session_start`, kept on resume
    last_seq: int
    model: str | None
    tools: list[dict[str, Any]] = field(default_factory=list)
    # The "interrupted" results made on load for trailing unanswered tool calls: the tail of
    # `messages`, not yet in the log (open_recorder records them).
    repaired: list[dict[str, Any]] = field(default_factory=list)


INTERRUPTED_RESULT = json.dumps({"error": "interrupted: hermes stopped before this call finished (killed or "
                                          "crashed); its outcome is unknown", "interrupted": True})


def answer_unanswered(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """`messages` with an interrupted result after each tool call that has none, and how many were added.

    Results go right after the results the call's assistant message already has, so every
    assistant `tool_calls` message is followed by one tool message per call, as endpoints require.
    """
    out: list[dict[str, Any]] = []
    added = 0
    i = 0
    while i < len(messages):
        message = messages[i]
        out.append(message)
        i += 1
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if not calls:
            continue
        answered: set[str] = set()
        while i < len(messages) and messages[i].get("role") == "tool":
            answered.add(str(messages[i].get("tool_call_id")))
            out.append(messages[i])
            i += 1
        for call in calls:
            call_id = call.get("id") if isinstance(call, dict) else None
            if isinstance(call_id, str) and call_id not in answered:
                out.append({"role": "tool", "tool_call_id": call_id, "content": INTERRUPTED_RESULT})
                answered.add(call_id)
                added += 1
    return out, added


def load_history(path: Path) -> ResumedSession:
    """Read a session log for resuming, under its lock; a missing or empty log is a ConfigError
    (one line), as is a session another process has open (SessionInUse)."""
    try:
        lock_session(path, path.name.removeprefix("session_").removesuffix(".jsonl"))
        session = load_session(path)
    except OSError as exc:
        raise ConfigError(f"cannot resume {path}: {exc.strerror or exc}") from None
    if not session.start:
        raise ConfigError(f"cannot resume {path}: it has no session_start event (not a hermes session log?)")
    start = session.start.get("session_start") or session.start.get("ts") or ""
    messages, added = answer_unanswered(list(session.messages))
    # Only a trailing gap (what a kill leaves) can be recorded by appending; one mid-history (a log
    # resumed before this repair existed) is answered again on every load.
    earlier = len(session.messages)
    trailing = messages[earlier:] if added and messages[:earlier] == session.messages else []
    return ResumedSession(session.session_id, path.parent, messages, start, session.last_seq,
                          session.model, session.start.get("tools") or [], trailing)


@dataclass
class SessionInfo:
    """What a session log is opened with: the session's identity, model, tools and run metadata."""

    session_id: str
    directory: Path
    model: str | None
    tools: list[dict[str, Any]]
    metadata: dict[str, Any]  # mode, base_url, toolsets, system_prompt, max_turns, ... (recorded as is)
    secrets: list[str]  # values redacted from the logs (the API key)
    history: list[dict[str, Any]] = field(default_factory=list)  # messages handed in by the caller
    live_file: bool = True  # rewrite the ShareGPT file after every message (not in batch)
    redactor: redact.Redactor | None = None  # None: redact.shared(secrets)


def open_recorder(info: SessionInfo, resumed: ResumedSession | None) -> SessionRecorder:
    """The session log: the resumed session's own files, else a new session in `info.directory`."""
    metadata = dict(info.metadata)
    # one per run in batch (made once by the runner): 1,000 sessions, one system prompt
    redactor = info.redactor or redact.shared(info.secrets)
    if resumed is None:
        recorder = SessionRecorder(info.session_id, info.directory, model=info.model, tools=info.tools,
                                   redactor=redactor, metadata=metadata, live_file=info.live_file)
        for message in info.history:
            recorder.record_message(message, from_history=True)
        return recorder
    if info.tools != resumed.tools:  # exports need the tools the model saw from here on
        metadata["tools"] = info.tools
    earlier = resumed.messages[:len(resumed.messages) - len(resumed.repaired)]
    recorder = SessionRecorder.reopen(
        resumed.session_id, resumed.directory, model=info.model or resumed.model or "unknown", tools=info.tools,
        previous_messages=earlier, session_start=resumed.session_start, last_seq=resumed.last_seq,
        metadata=metadata, redactor=redactor,
    )
    if resumed.repaired:  # as Ctrl-C records it: the results, then an `interrupted` event
        for message in resumed.repaired:
            recorder.record_message(message)
        recorder.record_event("interrupted", reason="unanswered tool calls found on resume",
                              tool_call_ids=[m["tool_call_id"] for m in resumed.repaired])
    return recorder


def _line(text: str, limit: int = RECAP_CLIP) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def recap(messages: list[dict[str, Any]], limit: int = RECAP_CLIP, exchanges: int = 1) -> str:
    """The last `exchanges` exchanges, two short lines each: what the user asked, how the answer
    began; a first line counts the earlier ones left out."""
    starts = [i for i, message in enumerate(messages) if is_prompt(message)]
    if not starts:
        return "(no earlier messages)"
    shown = starts[-max(exchanges, 1):]
    lines = [f"… {len(starts) - len(shown)} earlier exchange(s) (/history shows them)"] if exchanges > 1 and len(
        starts) > len(shown) else []
    for n, start in enumerate(shown):
        end = shown[n + 1] if n + 1 < len(shown) else len(messages)
        lines.append(f"you: {_line(text_of(messages[start].get('content')), limit)}")
        answers = [m for m in messages[start + 1:end]
                   if m.get("role") == "assistant" and text_of(m.get("content")).strip()]
        if answers:
            lines.append(f"hermes: {_line(text_of(answers[-1].get('content')), limit)}")
        else:
            lines.append("hermes: (no answer yet)")
    return "\n".join(lines)
