"""Writes one session's two files as it happens.

- `session_<id>.jsonl`: append-only event log, one JSON object per line, each line a single write()
  so a kill -9 can lose at most the event being written. Lossless: every message as sent/received
  and every LLM call with its parameters, usage, timing and (when the server sent them) token ids
  and logprobs. It is the source every export is derived from.
- `session_<id>.json`: the seed's ShareGPT session file, replaced atomically after every message
  by a background writer (recording/session_file.py). Turns are encoded once and cached, so a
  message costs the same at turn 1,000 as at turn 1.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.tools_json import tools_json
from recording import images
from recording.paths import event_log_path, session_file_path
from recording.private import open_private, private_dir
from recording.redact import Redactor
from recording.session_file import SessionFileWriter
from recording.session_lock import lock_session, release_session
from recording.sharegpt import ShareGPTBuilder

LOG_FORMAT_VERSION = 1
# Fields that every session of a run repeats and that make up most of their events' bytes: encoded
# once per run (agent/tools_json.py), redacted once (the redactor remembers long texts) and added
# to the end of the line. Redacting them apart from the rest finds the same secrets: no secret or
# `name: value` pair spans the `, "tools": ` between two fields.
SHARED_FIELDS = ("tools", "system_prompt")


def _now() -> str:
    return datetime.now().isoformat()


def _end_cut_line(path: Path) -> None:
    """A kill -9 may have left half a line; end it so our next event starts on a line of its own."""
    try:
        with path.open("rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    fh.seek(0, os.SEEK_END)
                    fh.write(b"\n")
    except FileNotFoundError:
        pass


def _ids_in_logprobs(entries: Any) -> list[int] | None:
    """Token ids carried by logprob entries (`id`, as llama.cpp sends them), if every entry has one."""
    if not isinstance(entries, list) or not entries:
        return None
    ids = [e.get("id") if isinstance(e, dict) else None for e in entries]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return ids  # type: ignore[return-value]
    return None


class SessionRecorder:
    def __init__(
        self,
        session_id: str,
        directory: Path,
        *,
        model: str,
        tools: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
        redactor: Redactor | None = None,
        session_start: str | None = None,
        first_seq: int = 0,
        live_file: bool = True,
    ) -> None:
        # live_file=False (batch runs): the session file is rewritten at flush/close, i.e. once per
        # run, not after every message; the event log is still written as things happen.
        self.session_id = session_id
        self._live_file = live_file
        self._file_stale = False
        self.model = model
        private_dir(directory)
        self.event_log = event_log_path(directory, session_id)
        self.session_file = session_file_path(directory, session_id)
        self._redact = redactor or Redactor()
        self._lock = threading.Lock()
        # A write that fails (full disk, file-size limit) stops the recording for good: a log with a
        # hole in the middle would resume into a different conversation. `failed` says why, and
        # `on_failure` (the agent's warning line) hears it once; the run itself goes on.
        self.failed: str | None = None
        self.on_failure: Callable[[str], None] | None = None
        self._fd = open_private(self.event_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # 0600, an old log too
        try:
            lock_session(self.event_log, session_id)  # SessionInUse when another process has it open
        except BaseException:
            os.close(self._fd)
            raise
        self._seq = first_seq  # a reopened log carries on its sequence numbers
        self._message_count = 0
        self._tools = tools
        self._sharegpt = ShareGPTBuilder(tools)
        self._encoded: list[str] = []
        self._writer = SessionFileWriter(self.session_file, on_error=self._fail)
        self.session_start = session_start or _now()
        self._closed = False
        # Token ids are not text, so redaction cannot reach them: once a secret has been in the
        # conversation (redacted in the log), the prompt ids of later calls would still encode it.
        system_prompt = str((metadata or {}).get("system_prompt") or "")
        self._secret_in_system = self._redact(system_prompt) != system_prompt
        self._secret_in_history = self._secret_in_system
        # The system prompt and tools the log says are in force (recording/requests.py): a call
        # made with others is preceded by a `request_context` event.
        self._context: tuple[str, list[dict[str, Any]]] = (system_prompt, tools)
        if session_start is None:
            self.record_event(
                "session_start", session_id=session_id, model=model, tools=tools,
                session_start=self.session_start, **(metadata or {}),
            )

    @classmethod
    def reopen(
        cls,
        session_id: str,
        directory: Path,
        *,
        model: str,
        tools: list[dict[str, Any]],
        previous_messages: list[dict[str, Any]],
        session_start: str,
        last_seq: int,
        metadata: dict[str, Any] | None = None,
        redactor: Redactor | None = None,
    ) -> SessionRecorder:
        """Append to an existing session's files: no new session_start, a `session_resume` event.

        The ShareGPT builder is re-fed the history the session had, so the rewritten
        `session_<id>.json` still holds the whole conversation.
        """
        _end_cut_line(event_log_path(directory, session_id))
        recorder = cls(session_id, directory, model=model, tools=tools, redactor=redactor,
                       session_start=session_start, first_seq=last_seq)
        system_prompt = str((metadata or {}).get("system_prompt") or "")
        recorder._secret_in_system = recorder._redact(system_prompt) != system_prompt
        recorder._context = (system_prompt, tools)
        recorder.record_event("session_resume", previous_messages=len(previous_messages), model=model,
                              **(metadata or {}))
        recorder.replace_history(previous_messages)
        return recorder

    # -- event log -----------------------------------------------------------------------------
    def record_event(self, type_: str, **fields: Any) -> bool:
        """Append one event; True when redaction removed something from it."""
        with self._lock:
            if self._closed or self.failed:
                return False
            self._seq += 1
            if type_ == "tools_changed":
                self._context = (self._context[0], fields.get("tools") or [])
            event = {"v": LOG_FORMAT_VERSION, "type": type_, "seq": self._seq, "ts": _now(), **fields}
            shared = {name: event.pop(name) for name in SHARED_FIELDS if isinstance(event.get(name), (list, str))}
            raw = json.dumps(event, ensure_ascii=False, default=str)
            line = self._redact(raw)
            changed = line != raw
            for name, value in shared.items():
                text = tools_json(value) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
                done = self._redact(text)
                changed = changed or done != text
                line = f'{line[:-1]}, "{name}": {done}}}'
            data = (line + "\n").encode("utf-8", "replace")
            try:
                while data:
                    written = os.write(self._fd, data)
                    data = data[written:]
            except OSError as exc:
                self._fail(f"cannot write {self.event_log}: {exc.strerror or exc}")
            return changed

    def _fail(self, message: str) -> None:
        if self.failed is None:
            self.failed = message
            if self.on_failure is not None:
                self.on_failure(message)

    def record_message(self, message: dict[str, Any], **extra: Any) -> None:
        """Log a conversation message (not the system prompt) and refresh the session file."""
        try:  # pictures go to files beside the log; the event references them (recording/images.py)
            logged = images.externalize(message, self.event_log)
        except OSError as exc:
            self._fail(f"cannot write images beside {self.event_log}: {exc.strerror or exc}")
            return
        if self.record_event("message", message=logged, **extra):
            self._secret_in_history = True
        with self._lock:
            if self.failed:
                return
            self._message_count += 1
            self._sharegpt.add(message)
            turns = self._sharegpt.turns
            del self._encoded[max(len(turns) - 1, 0):]
            for turn in turns[len(self._encoded):]:
                self._encoded.append(self._redact(json.dumps(turn, ensure_ascii=False)))
            self._write_session_file()

    def record_history_change(self, type_: str, messages: list[dict[str, Any]], **fields: Any) -> None:
        """Log an edit of the history (undo, retry, reset, compression); `messages` is the result."""
        self.record_event(type_, **fields)
        self.replace_history(messages)

    def replace_history(self, messages: list[dict[str, Any]]) -> None:
        """Rebuild the session file from `messages` (edits are rare; appends stay incremental)."""
        texts = (json.dumps(m, ensure_ascii=False, default=str) for m in messages)
        self._secret_in_history = self._secret_in_system or any(self._redact(t) != t for t in texts)
        with self._lock:
            self._sharegpt = ShareGPTBuilder(self._tools)
            for message in messages:
                self._sharegpt.add(message)
            self._message_count = len(messages)
            self._encoded = [self._redact(json.dumps(turn, ensure_ascii=False)) for turn in self._sharegpt.turns]
            self._write_session_file()

    def note_request(self, system_prompt: str, tools: list[dict[str, Any]]) -> None:
        """Log the system prompt and tools of the request about to be recorded, if they changed
        (`/prompt`, `/personality`, `/toolsets`, a resume elsewhere): exports rebuild every request."""
        old_prompt, old_tools = self._context
        if system_prompt == old_prompt and (tools is old_tools or tools == old_tools):
            return
        fields: dict[str, Any] = {}
        if system_prompt != old_prompt:
            fields["system_prompt"] = system_prompt
            self._secret_in_system = self._redact(system_prompt) != system_prompt
            self._secret_in_history = self._secret_in_history or self._secret_in_system
        if tools is not old_tools and tools != old_tools:
            fields["tools"] = tools
        self._context = (system_prompt, tools)
        self.record_event("request_context", **fields)

    def record_llm_call(self, *, completion_message: dict[str, Any] | None = None, ephemeral_prompt: bool = False,
                        **fields: Any) -> None:
        """Log one model call. Token ids that would carry text the log must not hold are withheld
        (`token_ids_withheld` says which and why): prompt ids of a request that held an ephemeral
        system prompt or a secret, completion ids (and logprob token strings) of a reply that held
        a secret. Redaction works on text; it cannot find a secret spelled as token ids."""
        withheld: dict[str, str] = {}
        if fields.get("completion_token_ids") is None and (ids := _ids_in_logprobs(fields.get("logprobs"))):
            # llama.cpp sends no id fields but puts each sampled token's id in its logprob entry
            fields["completion_token_ids"] = ids
            fields["token_ids_from"] = "logprobs"
        if fields.get("prompt_token_ids") is not None:
            if ephemeral_prompt:
                withheld["prompt_token_ids"] = "ephemeral system prompt"
            elif self._secret_in_history:
                withheld["prompt_token_ids"] = "secret in the prompt"
            if withheld:
                fields["prompt_token_ids"] = None
        if completion_message is not None and (fields.get("completion_token_ids") is not None or fields.get("logprobs")):
            text = json.dumps(completion_message, ensure_ascii=False, default=str)
            if self._redact(text) != text:
                withheld["completion_token_ids"] = "secret in the completion"
                fields["completion_token_ids"] = None
                if fields.get("logprobs"):
                    fields["logprobs"] = [{"logprob": e.get("logprob")} for e in fields["logprobs"]]
        if "token_source" in fields:
            fields["token_source"] = "server" if fields.get("completion_token_ids") is not None else None
        if ephemeral_prompt:
            fields["ephemeral_prompt"] = True
        if withheld:
            fields["token_ids_withheld"] = withheld
        self.record_event("llm_call", **fields)

    def flush(self) -> None:
        """Wait until the session file shows every message recorded so far."""
        with self._lock:
            if self._file_stale:
                self._write_session_file(now=True)
        self._writer.flush()

    def close(self, status: str, **fields: Any) -> None:
        if self._closed:
            return
        self.record_event("session_end", status=status, **fields)
        with self._lock:
            if self._file_stale:
                self._write_session_file(now=True)
            self._closed = True
            os.close(self._fd)
        self._writer.close()
        release_session(self.event_log)

    # -- session file --------------------------------------------------------------------------
    def _write_session_file(self, *, now: bool = False) -> None:
        if not (self._live_file or now):
            self._file_stale = True
            return
        self._file_stale = False
        head = {
            "session_id": self.session_id,
            "model": self.model,
            "session_start": self.session_start,
            "last_updated": _now(),
            "message_count": self._message_count,
        }
        head_text = self._redact(json.dumps(head, ensure_ascii=False))[:-1]
        if self._live_file:
            self._writer.submit(head_text, list(self._encoded))
        else:  # written once, at the end of a batch sample: no thread for it
            self._writer.write_now(head_text, self._encoded)
