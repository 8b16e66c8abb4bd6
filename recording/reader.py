"""Reading session event logs back: for resume, /sessions and exports.

A log cut by a kill -9 may end in half a line; that line is skipped, everything before it is kept.

`load_session` replays the log: `message` events append, `history_edit` (undo, retry, reset, rewind) drops
the last `removed_count` messages, `context_compressed` replaces a span with its summary message.
So `Session.messages` is exactly the history the user last saw; `recorded_messages` keeps every
message ever recorded, for exports that want the raw stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from recording import images
from recording.requests import CONTEXT_EVENTS, CallView, RequestContext, context_after

LOG_GLOB = "session_*.jsonl"
EDIT_EVENTS = ("history_edit", "context_compressed")
PROMPT_CLIP = 80


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
    recorded_messages: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)  # history_edit / context_compressed events
    resumes: list[dict[str, Any]] = field(default_factory=list)  # session_resume events
    # Parallel to `messages`: the llm_call event that produced each assistant message (it is logged
    # right before the message), else None. Edits are applied to both lists alike.
    message_calls: list[dict[str, Any] | None] = field(default_factory=list)
    last_seq: int = 0
    # Every llm_call with the request it answered (recording/requests.py), in log order, and the
    # system prompt and tools in force at the end of the log.
    calls: list[CallView] = field(default_factory=list)
    context: RequestContext = field(default_factory=RequestContext)
    # (len(recorded_messages) when it happened, context_compressed event), and the ids of recorded
    # messages an undo/retry/reset removed: with these, the whole story can be told in log order.
    compactions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    undone: set[int] = field(default_factory=set)
    # `hermes batch`: the sample's group id (its dataset row), index in the group and verifier reward
    batch: dict[str, Any] | None = None

    @property
    def model(self) -> str | None:
        """The model last used: a resume may have switched it."""
        for event in reversed(self.resumes):
            if event.get("model"):
                return event["model"]
        return self.start.get("model")

    @property
    def first_prompt(self) -> str:
        for message in self.messages:
            if is_prompt(message):
                return prompt_text(message["content"])
        return ""

    @property
    def user_turns(self) -> int:
        return sum(1 for m in self.messages if is_prompt(m))


def _is_tool_text(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, str) and content.startswith("<tool_response>")


# Compression (agent/compression.py) puts one user message starting with one of these in place of
# the messages it summarised or dropped; it is context for the model, not something the user typed.
SUMMARY_PREFIX = "[Summary of earlier conversation:"
OMITTED_PREFIX = "[Earlier conversation omitted:"


def is_summary(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, str) and content.startswith((SUMMARY_PREFIX, OMITTED_PREFIX))


def is_prompt(message: dict[str, Any]) -> bool:
    """A user message the user typed (not text tool results, not a compression summary)."""
    content = message.get("content")
    if isinstance(content, list):  # text and images (agent/images.py)
        return message.get("role") == "user" and any(isinstance(p, dict) and p.get("type") == "text" for p in content)
    return (message.get("role") == "user" and isinstance(content, str)
            and not _is_tool_text(message) and not is_summary(message))


def prompt_text(content: Any) -> str:
    """A prompt's text: the string, or the text parts of a prompt with images."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def session_id_of(path: Path) -> str:
    return path.name.removeprefix("session_").removesuffix(".jsonl")


def apply_edit(messages: list[Any], event: dict[str, Any], replacement: Any = None) -> None:
    """Apply a history_edit / context_compressed event to `messages` in place.

    `replacement` stands in for the summary message (list_sessions tracks flags, not messages).
    """
    if event.get("type") == "history_edit":
        count = int(event.get("removed_count") or 0)
        if count > 0:
            del messages[max(len(messages) - count, 0):]
    elif event.get("type") == "context_compressed":
        start, count = int(event.get("start", 1)), int(event.get("replaced_count") or 0)
        new = event.get("message") if replacement is None else replacement
        messages[start:start + count] = [new] if new is not None else []


_NO_CALL: dict[str, Any] = {}


def load_session(path: Path) -> Session:
    session = Session(session_id_of(path), path)
    pending_call: dict[str, Any] | None = None
    pending_view: CallView | None = None
    replies: dict[int, CallView] = {}  # id(reply message) -> its call, to see undone replies
    for event in iter_events(path):
        kind = event.get("type")
        session.last_seq = max(session.last_seq, int(event.get("seq") or 0))
        if kind in CONTEXT_EVENTS:
            if kind == "session_start":
                session.start = event
            session.context = context_after(event, session.context, session.start)
        if kind == "message":
            message = images.restore(event["message"], path.parent)
            session.messages.append(message)
            session.recorded_messages.append(message)
            is_reply = message.get("role") == "assistant"
            session.message_calls.append(pending_call if is_reply else None)
            if is_reply and pending_view is not None:
                pending_view.reply = message
                replies[id(message)] = pending_view
            pending_call = pending_view = None
        elif kind in EDIT_EVENTS:
            if kind == "history_edit":
                count = int(event.get("removed_count") or 0)
                for message in session.messages[max(len(session.messages) - count, 0):] if count > 0 else ():
                    session.undone.add(id(message))
                    if (view := replies.get(id(message))) is not None:
                        view.reply_undone = True
            else:
                session.compactions.append((len(session.recorded_messages), event))
            apply_edit(session.messages, event)
            apply_edit(session.message_calls, event, replacement=_NO_CALL if event.get("message") is not None else None)
            session.message_calls = [None if c is _NO_CALL else c for c in session.message_calls]
            session.edits.append(event)
            pending_call = pending_view = None
        elif kind == "session_resume":
            session.resumes.append(event)
            session.end = None  # the session is open again until its next session_end
        elif kind == "llm_call":
            session.llm_calls.append(event)
            pending_call = event
            count = event.get("prompt_messages")
            sent = session.messages[:count] if isinstance(count, int) else list(session.messages)
            pending_view = CallView(event, len(session.calls) + 1, sent, session.context)
            session.calls.append(pending_view)
        elif kind == "session_end":
            session.end = event
        elif kind == "batch_sample":
            session.batch = event
    return session


def session_logs(directory: Path) -> list[Path]:
    """Event logs, newest first (session ids start with a timestamp)."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(LOG_GLOB), key=lambda p: p.name, reverse=True)


def latest_session(directory: Path) -> Path | None:
    """The log written to most recently (a resumed old session counts as recent): for --continue."""
    logs = session_logs(directory)
    if not logs:
        return None
    return max(logs, key=lambda p: (_mtime(p), p.name))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_session(directory: Path, id_or_prefix: str) -> Path:
    """The log whose id equals or uniquely starts with `id_or_prefix`; ValueError otherwise."""
    logs = session_logs(directory)
    exact = [p for p in logs if session_id_of(p) == id_or_prefix]
    if exact:
        return exact[0]
    matches = [p for p in logs if session_id_of(p).startswith(id_or_prefix)]
    if not matches:
        recent = ", ".join(session_id_of(p) for p in logs[:5])
        hint = f"; recent: {recent}" if recent else ""
        raise ValueError(f"no session '{id_or_prefix}' in {directory}{hint}")
    if len(matches) > 1:
        shown = ", ".join(session_id_of(p) for p in matches[:5])
        more = ", …" if len(matches) > 5 else ""
        raise ValueError(f"'{id_or_prefix}' matches {len(matches)} sessions ({shown}{more}); give more of the id")
    return matches[0]


# -- /sessions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    started: datetime
    first_prompt: str  # clipped to one line
    user_turns: int
    model: str | None
    path: Path
    mode: str = "repl"  # how it was run: repl (a chat), oneshot (-p), batch, run_agent

    @property
    def is_chat(self) -> bool:
        return self.mode == "repl"


# Our recorder writes `{"v": 1, "type": "message", "seq": N, "ts": "...", "message": {"role": ...`, so
# the event type and a message's role sit in the first bytes of a line. Scanning those heads lets
# list_sessions skip parsing tool output, token ids and logprobs, which make up most of a big log.
_HEAD = 160
_TYPE_MESSAGE = b'"type": "message"'
_USER = b'"message": {"role": "user", "content": "'
_OTHER_ROLE = b'"message": {"role": "'
_USER_PARTS = b'"message": {"role": "user", "content": ['
_NOT_TYPED = (b"<tool_response>", SUMMARY_PREFIX.encode(), OMITTED_PREFIX.encode())
_NEEDS_PARSE = (b'"type": "session_start"', b'"type": "session_resume"', b'"type": "history_edit"',
                b'"type": "context_compressed"')


def _started(session_id: str, path: Path) -> datetime:
    try:
        return datetime.strptime(session_id[:15], "%Y%m%d_%H%M%S")
    except ValueError:
        return datetime.fromtimestamp(_mtime(path))


def _clip(text: str, limit: int = PROMPT_CLIP) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summarize_session(path: Path) -> SessionSummary:
    """One log's summary, parsing only the lines it needs (see _HEAD)."""
    # Each message is tracked as the raw line of a typed prompt, or None for any other message.
    prompts: list[bytes | None] = []
    model: str | None = None
    mode = ""
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            head = raw[:_HEAD]
            if _TYPE_MESSAGE in head:
                if _USER in head:
                    content_at = head.index(_USER) + len(_USER)
                    prompts.append(None if head.startswith(_NOT_TYPED, content_at) else raw)
                elif _USER_PARTS in head:  # text and images
                    prompts.append(raw)
                elif _OTHER_ROLE in head:
                    prompts.append(None)
                else:  # a message with unusual key order (history handed in by a caller)
                    message = _loads(raw).get("message") or {}
                    prompts.append(raw if is_prompt(message) else None)
            elif any(marker in head for marker in _NEEDS_PARSE):
                event = _loads(raw)
                kind = event.get("type")
                if kind in ("session_start", "session_resume"):
                    model = event.get("model") or model
                    # a run resumed in the REPL has become a chat; a chat resumed by -p stays one
                    if event.get("mode") and (kind == "session_start" or event["mode"] == "repl"):
                        mode = str(event["mode"])
                elif kind in EDIT_EVENTS:
                    apply_edit(prompts, event, replacement=b"")  # a summary is not a prompt
    typed = [line for line in prompts if line]
    first = ""
    if typed:
        first = _clip(prompt_text((_loads(typed[0]).get("message") or {}).get("content", "")))
    session_id = session_id_of(path)
    return SessionSummary(session_id, _started(session_id, path), first, len(typed), model, path, mode or "repl")


def _loads(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_SUMMARIES: dict[Path, tuple[int, int, SessionSummary]] = {}  # path -> (mtime_ns, size, its summary)


def all_sessions(directory: Path) -> list[SessionSummary]:
    """Every session with at least one typed prompt, newest first, for paged listings. A log is
    read again only when it changed since the last listing (most have not)."""
    found: list[SessionSummary] = []
    for path in session_logs(directory):
        try:
            stat = path.stat()
            cached = _SUMMARIES.get(path)
            if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
                summary = cached[2]
            else:
                summary = summarize_session(path)
                _SUMMARIES[path] = (stat.st_mtime_ns, stat.st_size, summary)
        except OSError:
            continue  # deleted or unreadable meanwhile
        if summary.user_turns:
            found.append(summary)
    return found


def list_sessions(directory: Path, limit: int = 20) -> list[SessionSummary]:
    """Recent sessions with at least one message, newest first. Reads only as many logs as it shows."""
    found: list[SessionSummary] = []
    for path in session_logs(directory):
        if len(found) >= limit:
            break
        try:
            summary = summarize_session(path)
        except OSError:
            continue  # deleted or unreadable meanwhile
        if summary.user_turns:
            found.append(summary)
    return found
