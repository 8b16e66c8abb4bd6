"""Which conversation each chat-format record holds (openai, messages), so that every record
carries the system prompt and tools the model saw when it wrote the turns the record trains.

- The final history is split where the request context changed (a `/prompt`, `/personality`,
  `/toolsets`, a resume elsewhere): record k holds the history up to the end of segment k, with
  segment k's system prompt and tools; assistant turns of earlier segments are context there
  (trained=False), never trained under a prompt they were not written for.
- Calls whose replies a compaction removed from the history get records of their own: the
  request of the last such call before each compaction (per context) plus its reply, training
  only the turns of that context that did not survive (the surviving ones are trained in the final history's records).
- `compaction` says where a record sits: "none", "before" (its turns were later summarised) or
  "after" (it starts with a compaction summary, which is context the agent wrote, not the user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exports.source import Trajectory
from exports.textcalls import is_text_response
from recording.reader import is_summary
from recording.requests import CallView, RequestContext


@dataclass
class ChatRecord:
    context: RequestContext
    messages: list[dict[str, Any]]
    trained: set[int]  # indices (into messages) of assistant turns this record trains
    calls: dict[int, dict[str, Any]]  # index of an assistant message -> its llm_call event
    compaction: str  # "none" | "before" | "after"


def chat_records(t: Trajectory) -> list[ChatRecord]:
    records = _before_compaction(t)
    records.extend(_final_segments(t))
    return records


def _final_segments(t: Trajectory) -> list[ChatRecord]:
    by_event = {id(v.event): v for v in t.calls}
    messages = t.messages
    calls = t.call_for_message
    segments: list[tuple[RequestContext, list[int]]] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        view = by_event.get(id(calls[index])) if index in calls else None
        context = view.context if view is not None else (segments[-1][0] if segments else t.context)
        if not segments or not context.same_as(segments[-1][0]):
            segments.append((context, []))
        segments[-1][1].append(index)
    compaction = "after" if any(is_summary(m) for m in messages) else "none"
    if not segments:
        return [ChatRecord(t.context, list(messages), set(), calls, compaction)]
    out = []
    for number, (context, assistants) in enumerate(segments):
        end = len(messages)
        if number + 1 < len(segments):
            end = assistants[-1] + 1
            while end < len(messages) and (messages[end].get("role") == "tool" or is_text_response(messages[end])):
                end += 1
        out.append(ChatRecord(context, messages[:end], set(assistants), calls, compaction))
    return out


def _before_compaction(t: Trajectory) -> list[ChatRecord]:
    """One record per compaction that removed replies: the last such call's request and reply."""
    lost = [v for v in t.calls if v.reply is not None and not v.reply_undone and id(v.reply) not in t.final_positions]
    if not lost:
        return []
    out: list[ChatRecord] = []
    compactions = sorted(int(e.get("seq") or 0) for e in t.session.edits if e.get("type") == "context_compressed")
    groups: dict[tuple[int, int], CallView] = {}
    for view in lost:
        seq = int(view.event.get("seq") or 0)
        after = next((c for c in compactions if c > seq), None)
        if after is not None:  # per compaction and context: the last call in log order wins
            groups[(after, id(view.context))] = view
    lost_ids = {id(v.reply) for v in lost}
    events = {id(v.reply): v.event for v in t.calls if v.reply is not None}
    contexts = {id(v.reply): v.context for v in t.calls if v.reply is not None}
    for view in groups.values():
        messages = [*view.messages, view.reply]
        trained = {i for i, m in enumerate(messages) if m.get("role") == "assistant" and id(m) in lost_ids
                   and contexts.get(id(m)) is view.context}
        calls = {i: events[id(m)] for i, m in enumerate(messages) if id(m) in events}
        out.append(ChatRecord(view.context, messages, trained, calls, "before"))
    return out
