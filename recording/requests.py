"""What each model call was sent, rebuilt from the event log alone.

The agent's request is `[system prompt, *history]` + tools + sampling parameters. The log holds
every piece: the history through `message` and edit events, the system prompt and tools through
`session_start`, `session_resume`, `tools_changed` and `request_context` (the recorder writes the
latter before a call whenever the system prompt or tools differ from the last ones it logged: a
`/prompt`, `/personality`, `/toolsets`, another working directory on `--continue`), and the
sampling parameters in each `llm_call` event. `recording.reader.load_session` keeps, per call, the
history and the context in force (`CallView`); `request_body` turns one into the JSON body the
server received.

Not in the log, by design: the ephemeral system prompt (only a flag says a call carried one) and
secrets (redacted text). The summariser's own call during compression is not an agent call; its
result is the `context_compressed` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    """The system prompt and tool schemas a request carried (besides the history)."""

    system_prompt: str = ""
    tools: tuple[str, ...] | list[dict[str, Any]] = ()

    @property
    def tool_list(self) -> list[dict[str, Any]]:
        return list(self.tools)  # type: ignore[arg-type]

    def same_as(self, other: RequestContext) -> bool:
        return self is other or (self.system_prompt == other.system_prompt and list(self.tools) == list(other.tools))


@dataclass
class CallView:
    """One `llm_call` event with the request it answered and the assistant message it produced."""

    event: dict[str, Any]
    number: int  # 1-based position among the log's calls: unique across the runs of a resumed session
    messages: list[dict[str, Any]]  # the history sent after the system prompt
    context: RequestContext
    reply: dict[str, Any] | None = None  # None: the log ends (or was edited) before the reply
    reply_undone: bool = False  # an undo/retry/reset removed the reply from the history later

    @property
    def ephemeral(self) -> bool:
        return bool(self.event.get("ephemeral_prompt"))


def context_after(event: dict[str, Any], current: RequestContext, start: dict[str, Any]) -> RequestContext:
    """The context in force after a context-bearing event (session_start/resume, tools_changed,
    request_context); `current` itself when nothing changed, so calls share one object."""
    new = _context_after(event, current, start)
    return current if new.same_as(current) else new


def _context_after(event: dict[str, Any], current: RequestContext, start: dict[str, Any]) -> RequestContext:
    kind = event.get("type")
    if kind == "session_start":
        return RequestContext(str(event.get("system_prompt") or ""), event.get("tools") or [])
    if kind == "session_resume":
        # The resuming agent logs its tools only when they differ from the session's first ones.
        system = str(event["system_prompt"] or "") if "system_prompt" in event else current.system_prompt
        tools = event["tools"] if "tools" in event else (start.get("tools") or [])
        return RequestContext(system, tools or [])
    if kind == "tools_changed":
        return RequestContext(current.system_prompt, event.get("tools") or [])
    if kind == "request_context":
        system = str(event["system_prompt"] or "") if "system_prompt" in event else current.system_prompt
        return RequestContext(system, event.get("tools", current.tools) or [])
    return current


CONTEXT_EVENTS = frozenset({"session_start", "session_resume", "tools_changed", "request_context"})


def request_body(view: CallView, model: str | None = None) -> dict[str, Any]:
    """The JSON body the server received for this call, as agent/llm.py sends it (extra_body
    merged in; streaming adds `stream` and asks for usage). The ephemeral system prompt is not in
    the log: a call that carried one has only the recorded part here."""
    call = view.event
    params = dict(call.get("params") or {})
    stream = bool(params.pop("stream", True))
    body: dict[str, Any] = {"model": model or call.get("request_model") or call.get("model"),
                            "messages": [{"role": "system", "content": view.context.system_prompt}, *view.messages]}
    if view.context.tools:
        body["tools"] = view.context.tool_list
    body.update(params)
    body.update(body.pop("extra_body", None) or {})
    if stream:
        body["stream"] = True
        body.setdefault("stream_options", {"include_usage": True})
    return body


def canonical(value: Any) -> str:
    """A comparable text for a request body (tests compare rebuilt and received bodies)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
