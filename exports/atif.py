"""ATIF-v1.5 trajectories (formats.md §2) from a session log, checked against the strict models.

Steps: the recorded system prompt, each user message, and one agent step per assistant message,
carrying its tool calls, their results (`observation`) and the call's metrics: usage, and the
server's prompt/completion token ids and logprobs, except ids that would spell text the log holds
no longer: an ephemeral system prompt or a redacted secret (see `Trajectory.server_prompt_ids`).
Text-mode calls (`<tool_call>` in content) become structured calls with their results.
"""

from __future__ import annotations

import json
from typing import Any

from exports.source import Trajectory
from exports.textcalls import is_text_response, text_before_calls, text_calls, text_responses
from recording.requests import CallView, RequestContext
from recording.sharegpt import text_of


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (json.JSONDecodeError, TypeError):
        return {"_raw": raw}  # keep what the model sent; ATIF wants an object
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def _metrics(call: dict[str, Any], prompt_ids: list[int] | None, completion_ids: list[int] | None) -> dict[str, Any] | None:
    usage = call.get("usage") or {}
    metrics: dict[str, Any] = {}
    for key in ("prompt_tokens", "completion_tokens"):
        if isinstance(usage.get(key), int):
            metrics[key] = usage[key]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        metrics["cached_tokens"] = cached
    if prompt_ids is not None:
        metrics["prompt_token_ids"] = prompt_ids
    logprobs = [e.get("logprob") for e in call.get("logprobs") or []]
    if completion_ids is not None:
        metrics["completion_token_ids"] = completion_ids
        # ATIF aligns logprobs with completion_token_ids; without the ids they would align with nothing
        if logprobs and len(logprobs) == len(completion_ids) and all(
                isinstance(lp, (int, float)) and not isinstance(lp, bool) for lp in logprobs):
            metrics["logprobs"] = [float(lp) for lp in logprobs]
    extra = {k: call[k] for k in ("finish_reason", "latency") if call.get(k) is not None}
    if call.get("token_source"):
        extra["token_source"] = call["token_source"]
    if extra:
        metrics["extra"] = extra
    return metrics or None


class _Builder:
    def __init__(self, trajectory: Trajectory) -> None:
        self.t = trajectory
        self.steps: list[dict[str, Any]] = []

    def add(self, step: dict[str, Any]) -> dict[str, Any]:
        step = {"step_id": len(self.steps) + 1, **step}
        self.steps.append(step)
        return step

    def build(self) -> list[dict[str, Any]]:
        """Steps in log order: every recorded message (undone ones left out); at a compaction a
        system step marks the boundary (`extra.context_management`, boundary "replace": the
        model's context from there is that step's summary plus what follows) and the messages the
        compaction kept are repeated as copied context (`is_copied_context`, which SFT drops)."""
        t = self.t
        # The system prompt of the first call (the log's first one if there was none); a later
        # `/prompt`, `/personality` or `/toolsets` shows as a system step where it took effect.
        self.context = t.calls[0].context if t.calls else t.context
        if self.context.system_prompt:
            self.add({"source": "system", "message": self.context.system_prompt})
        session = t.session
        recorded = session.recorded_messages
        if not session.compactions:
            self._steps(t.messages, False)
            return self.steps
        done = 0
        for position, event in session.compactions:
            self._steps([m for m in recorded[done:position] if id(m) not in session.undone], False)
            done = position
            summary = event.get("message") or {}
            self.add({"source": "system", "message": text_of(summary.get("content")),
                      "extra": {"context_management": {"type": "compaction", "boundary": "replace",
                                                       "replaced_messages": event.get("replaced_count")}}})
            kept = _history_after(recorded[:position], session.undone, session.compactions, event)
            self._steps(kept, True)
        self._steps([m for m in recorded[done:] if id(m) not in session.undone], False)
        return self.steps

    def _steps(self, messages: list[dict[str, Any]], copied: bool) -> None:
        calls = self.t.reply_calls
        agent_step: dict[str, Any] | None = None
        skip_next = False
        first = len(self.steps)
        for index, message in enumerate(messages):
            if skip_next:
                skip_next = False
                continue
            role = message.get("role")
            if role == "assistant":
                view = calls.get(id(message))
                if view is not None and not copied and not view.context.same_as(self.context):
                    self._context_step(view.context)
                agent_step = self._agent_step(message, view, copied)
                following = messages[index + 1] if index + 1 < len(messages) else None
                if agent_step.get("tool_calls") and is_text_response(following) and following is not None:
                    self._text_results(agent_step, following)
                    skip_next = True
            elif role == "tool" and agent_step is not None:
                results = agent_step.setdefault("observation", {"results": []})["results"]
                known = {c["tool_call_id"] for c in agent_step.get("tool_calls") or []}
                call_id = message.get("tool_call_id")
                result: dict[str, Any] = {"content": text_of(message.get("content"))}
                if call_id in known:
                    result = {"source_call_id": call_id, **result}
                results.append(result)
            elif role in ("user", "tool", "system"):
                agent_step = None
                source = "system" if role == "system" else "user"
                self.add({"source": source, "message": text_of(message.get("content"))})
        if copied:
            for step in self.steps[first:]:
                step["is_copied_context"] = True

    def _context_step(self, context: RequestContext) -> None:
        tools = [t.get("function", t).get("name") for t in context.tools]
        self.add({"source": "system", "message": context.system_prompt,
                  "extra": {"request_context": {"tools": tools}}})
        self.context = context

    def _agent_step(self, message: dict[str, Any], call: CallView | None, copied: bool) -> dict[str, Any]:
        step: dict[str, Any] = {"source": "agent", "model_name": (call.event.get("model") if call else None) or self.t.model}
        tool_calls = [
            {"tool_call_id": c.get("id") or f"call_{i}", "function_name": (c.get("function") or {}).get("name", ""),
             "arguments": _arguments((c.get("function") or {}).get("arguments"))}
            for i, c in enumerate(message.get("tool_calls") or [])
        ]
        content = message.get("content")
        if not tool_calls and (parsed := text_calls(message)):
            tool_calls = [{"tool_call_id": c.call_id, "function_name": c.name, "arguments": c.arguments} for c in parsed]
            step["message"] = text_before_calls(content)
        else:
            step["message"] = text_of(content)
        if message.get("reasoning"):
            step["reasoning_content"] = message["reasoning"]
        if tool_calls:
            step["tool_calls"] = tool_calls
        if call is not None and not copied and (metrics := _metrics(
                call.event, None if self.t.view_redacted(call) else self.t.server_prompt_ids(call.event),
                self.t.server_completion_ids_of(call.event, message))):
            step["metrics"] = metrics
        return self.add(step)

    @staticmethod
    def _text_results(step: dict[str, Any], response: dict[str, Any]) -> None:
        contents, rest = text_responses(response)
        ids = [c["tool_call_id"] for c in step["tool_calls"]]
        results = [{"source_call_id": ids[i], "content": c} if i < len(ids) else {"content": c}
                   for i, c in enumerate(contents)]
        if rest:
            results.append({"content": rest})
        step["observation"] = {"results": results}


def _history_after(recorded: list[dict[str, Any]], undone: set[int], compactions: list[tuple[int, dict[str, Any]]],
                   event: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages a compaction kept (its summary not included): the history up to it, replayed."""
    from recording.reader import apply_edit

    history: list[Any] = []
    done = 0
    for position, edit in compactions:
        history.extend(m for m in recorded[done:position] if id(m) not in undone)
        done = position
        apply_edit(history, edit)
        if edit is event:
            summary = edit.get("message")
            return [m for m in history if m is not summary]
    return history


def _final_metrics(trajectory: Trajectory, steps: int) -> dict[str, Any]:
    totals = {"total_prompt_tokens": 0, "total_completion_tokens": 0}
    cached = 0
    for call in trajectory.session.llm_calls:
        usage = call.get("usage") or {}
        totals["total_prompt_tokens"] += usage.get("prompt_tokens") or 0
        totals["total_completion_tokens"] += usage.get("completion_tokens") or 0
        cached += (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    out: dict[str, Any] = dict(totals)
    if cached:
        out["total_cached_tokens"] = cached
    out["total_steps"] = steps
    return out


def to_document(trajectory: Trajectory) -> dict[str, Any] | None:
    """The ATIF document, validated; None when the session has nothing to put in a step."""
    from cli import __version__
    from exports import atif_schema  # pydantic models: built only when ATIF is exported (~0.2 s)

    steps = _Builder(trajectory).build()
    if not steps:
        return None
    agent: dict[str, Any] = {"name": "hermes", "version": __version__}
    if trajectory.model:
        agent["model_name"] = trajectory.model
    tools: dict[str, dict[str, Any]] = {}  # every tool the session offered at some point, by name
    for context in [*(v.context for v in trajectory.calls), trajectory.context]:
        for tool in context.tools:
            tools.setdefault(str(tool.get("function", tool).get("name")), tool)
    if tools:
        agent["tool_definitions"] = list(tools.values())
    document = {
        "schema_version": atif_schema.SCHEMA_VERSION,
        "session_id": trajectory.session_id,
        "agent": agent,
        "steps": steps,
        "final_metrics": _final_metrics(trajectory, len(steps)),
        "extra": {"completed": trajectory.completed, "status": trajectory.status},
    }
    atif_schema.validate(document)  # a bug here must not produce an invalid file
    return document
