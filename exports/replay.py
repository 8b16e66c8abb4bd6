"""Replay a recorded session's tool calls, in order, against the current environment (no LLM).

Each call runs through `model_tools.handle_function_call` in a fresh task environment (its own
terminal state), and its new result is compared with the recorded one: as JSON when both parse
(so key order and spacing do not count), else as text. New output is redacted the way logs are
before it is compared or shown, so a secret in the environment is never printed. Parallel calls
of one turn are replayed one after another, in the order the model listed them.

Calls come from every assistant message the log recorded, in order, not from the history left
after a compaction or an undo: those calls ran and set up state. A call whose arguments held a
secret (redacted in the log) is skipped, with that reason. Where the recorded result holds
redacted text, the new output matches when it equals the recording outside the redacted spans;
if it differs it is withheld, since the secret the log hid may be right there in clear.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from exports.textcalls import is_text_response, text_calls, text_responses
from recording.reader import Session
from recording.redact import REDACTED

WITHHELD = "(withheld: the recording has redacted text here and the new output differs from it)"


@dataclass
class RecordedCall:
    step: int
    name: str
    arguments: str | dict[str, Any]
    call_id: str
    recorded: str | None  # None when the log has no result (session cut short)
    skip: str | None = None  # why this call is not run, else None


@dataclass
class StepResult:
    call: RecordedCall
    replayed: str
    matched: bool

    @property
    def skipped(self) -> bool:
        return self.call.skip is not None


def recorded_calls(session: Session) -> list[RecordedCall]:
    """Every tool call the session made (compacted or undone ones too), with the result the log
    holds for it."""
    messages = session.recorded_messages
    out: list[RecordedCall] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        results = _results_after(messages, index)
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            call_id = call.get("id", "")
            out.append(RecordedCall(len(out) + 1, fn.get("name", ""), fn.get("arguments") or "{}", call_id,
                                    results.get(call_id)))
        following = messages[index + 1] if index + 1 < len(messages) else None
        if not message.get("tool_calls") and is_text_response(following) and following is not None:
            contents, _ = text_responses(following)
            for i, call in enumerate(text_calls(message)):
                out.append(RecordedCall(len(out) + 1, call.name, call.arguments, call.call_id,
                                        contents[i] if i < len(contents) else None))
    for call in out:
        if REDACTED in (call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)):
            call.skip = "its arguments held a secret, redacted in the log"
    return out


def _results_after(messages: list[dict[str, Any]], index: int) -> dict[str, str]:
    results: dict[str, str] = {}
    for message in messages[index + 1:]:
        if message.get("role") != "tool":
            break
        content = message.get("content")
        results[message.get("tool_call_id", "")] = content if isinstance(content, str) else json.dumps(content)
    return results


def _normal(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def same_output(recorded: str | None, replayed: str) -> bool:
    if recorded is None:
        return False
    if REDACTED in recorded:  # equal outside the redacted spans
        pattern = "(?s)" + "(.+?)".join(re.escape(part) for part in recorded.split(REDACTED))
        return re.fullmatch(pattern, replayed) is not None
    return _normal(recorded) == _normal(replayed)


def replay(session: Session, *, yolo: bool = False, approval_mode: str = "ask",
           terminal: Any = None) -> Iterator[StepResult]:
    """Run the session's calls in order, yielding each result; stop iterating to stop the replay
    (the task environment is cleaned up either way). `approval_mode`: the settings' approvals.mode
    (nobody is asked: what would ask is denied); `terminal`: agent.settings.TerminalSettings."""
    import model_tools
    from recording.redact import Redactor
    from tools.registry import ToolContext

    tools = [t for context in {id(v.context): v.context for v in session.calls}.values() for t in context.tools]
    tools += session.start.get("tools") or []  # every tool the session had at some point
    allowed = {t.get("function", t).get("name") for t in tools} or None
    task_id = f"replay_{session.session_id}_{secrets.token_hex(3)}"
    ctx = ToolContext(task_id=task_id, yolo=yolo, approval_mode="yolo" if yolo else approval_mode,
                      terminal=terminal)
    redact = Redactor()
    try:
        for call in recorded_calls(session):
            if call.skip is not None:
                yield StepResult(call, "", False)
                continue
            result = redact(model_tools.handle_function_call(call.name, call.arguments, ctx=ctx, allowed=allowed))
            matched = same_output(call.recorded, result)
            if matched and call.recorded is not None and REDACTED in call.recorded:
                result = call.recorded  # the same, and shown as the log shows it
            elif not matched and call.recorded is not None and REDACTED in call.recorded:
                result = WITHHELD
            yield StepResult(call, result, matched)
    finally:
        model_tools.cleanup_vm(task_id)
