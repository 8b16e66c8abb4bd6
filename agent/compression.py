"""Context compression: summarise older messages when the conversation nears the model's window.

Kept: the system prompt (never in `messages`), the first user message and the last few messages
(moved back so an assistant tool call always stays with its results). The middle becomes one
user message "[Summary of earlier conversation: …]" written by the agent's own model in one call.

If that call fails nothing is dropped silently: everything is kept when it still fits the window;
otherwise the oldest middle messages are dropped until the rest fits, an "[Earlier conversation
omitted: …]" marker takes their place, and the notice says how many went and why.

Everything here works on data: a `Conversation` (messages, system prompt, tools, budget) and a
`summarise` function in, an `Outcome` out (the new messages, the notice, the event to record). The
agent applies it; nothing here touches the agent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent import llm
from agent.errors import Interrupted
from agent.images import IMAGE_TOKENS, text_and_images
from agent.retry import describe_error
from agent.tools_json import tools_json
from recording.reader import OMITTED_PREFIX, SUMMARY_PREFIX
from recording.sharegpt import text_of
from tools import todo_tool

DEFAULT_CONTEXT_WINDOW = 128_000
DEFAULT_THRESHOLD = 0.8
KEEP_LAST = 6
CHARS_PER_TOKEN = 4  # the usual rough estimate when no server count is at hand
TOOL_RESULT_CLIP = 2_000  # characters of each tool result the summariser sees

SUMMARY_INSTRUCTIONS = (
    "You summarise part of a conversation between a user and an AI agent that uses tools, so the agent "
    "can carry on without the original messages. Keep the user's goals and constraints, decisions made, "
    "facts learned (file paths, commands, errors, results), what was done and what is still open. "
    "Be concise and factual. Reply with the summary only."
)


@dataclass
class ContextBudget:
    """The window, when to compress, and what the last model call said about the prompt size."""

    window: int = DEFAULT_CONTEXT_WINDOW
    threshold: float = DEFAULT_THRESHOLD
    keep_last: int = KEEP_LAST
    # (prompt_tokens the server counted, how many messages that prompt held)
    last_prompt: tuple[int, int] | None = None
    stuck_at: int | None = None  # message count at which nothing was left to compress

    @property
    def limit(self) -> int:
        return int(self.window * self.threshold)

    def observe(self, usage: dict[str, Any] | None, message_count: int) -> None:
        tokens = (usage or {}).get("prompt_tokens")
        self.last_prompt = (int(tokens), message_count) if isinstance(tokens, int) and tokens > 0 else None

    def forget(self) -> None:
        """The history was edited: the last server count no longer describes it."""
        self.last_prompt = None
        self.stuck_at = None


@dataclass
class Compression:
    start: int
    replaced_count: int
    message: dict[str, Any]  # the summary (or omission marker) that replaced them
    summary: str | None  # None when summarising failed and messages were dropped
    tokens_before: int
    tokens_after: int
    error: str | None = None


# -- what compression works on and hands back ----------------------------------------------------
@dataclass
class Conversation:
    messages: list[dict[str, Any]]
    system_prompt: str | None
    tools: list[dict[str, Any]] | None
    budget: ContextBudget


Summarise = Callable[[list[dict[str, Any]]], tuple[str, dict[str, Any]]]  # messages -> (summary, call info)


@dataclass
class Outcome:
    """What one compression attempt decided. `messages` is None when the history stays as it is."""

    notice: str
    messages: list[dict[str, Any]] | None = None
    compression: Compression | None = None
    event: dict[str, Any] = field(default_factory=dict)  # fields of the "context_compressed" record
    usage: dict[str, Any] | None = None  # the summary call's usage, to add to the session's
    stuck: bool = False  # nothing could be compressed at this length


# -- sizes -------------------------------------------------------------------------------------
def message_tokens(message: dict[str, Any]) -> int:
    message, pictures = text_and_images(message)  # a picture's base64 is no measure of its tokens
    return len(json.dumps(message, ensure_ascii=False)) // CHARS_PER_TOKEN + 1 + pictures * IMAGE_TOKENS


def request_tokens(conversation: Conversation, messages: list[dict[str, Any]] | None = None) -> int:
    """chars/4 estimate of a whole request: system prompt, tool schemas, messages."""
    tools = conversation.tools
    fixed = len(conversation.system_prompt or "") + (len(tools_json(tools)) if tools else 0)
    messages = conversation.messages if messages is None else messages
    return fixed // CHARS_PER_TOKEN + sum(message_tokens(m) for m in messages)


def current_tokens(conversation: Conversation) -> int:
    """The last call's prompt_tokens plus an estimate for messages added since; else an estimate."""
    last, messages = conversation.budget.last_prompt, conversation.messages
    if last is not None and last[1] <= len(messages):
        return last[0] + sum(message_tokens(m) for m in messages[last[1]:])
    return request_tokens(conversation)


# -- what to replace ---------------------------------------------------------------------------
def _is_result(message: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """A tool result, or text-mode results sent back as a user message: never split from its call."""
    if message.get("role") == "tool":
        return True
    return (message.get("role") == "user" and text_of(message.get("content")).startswith("<tool_response>")
            and previous is not None and previous.get("role") == "assistant")


def _safe_cut(messages: list[dict[str, Any]], index: int) -> int:
    """Move a cut back until messages[index] starts a new step (is not a result of the step before)."""
    while 0 < index < len(messages) and _is_result(messages[index], messages[index - 1]):
        index -= 1
    return index


def middle_span(messages: list[dict[str, Any]], keep_last: int) -> tuple[int, int] | None:
    """[start, end) of what may be replaced: after the first user message, before the kept tail."""
    first = next((i for i, m in enumerate(messages) if m.get("role") == "user"), None)
    if first is None:
        return None
    start = first + 1
    end = _safe_cut(messages, max(len(messages) - keep_last, start))
    return (start, end) if end - start >= 2 else None  # one message for one summary frees nothing


# -- the summary call --------------------------------------------------------------------------
def transcript(messages: list[dict[str, Any]], max_chars: int) -> str:
    """The messages as plain text for the summariser, tool results clipped, the whole capped."""
    lines = []
    for message in messages:
        role = message.get("role", "?")
        text = text_of(message.get("content"))
        if role == "tool":
            text = text if len(text) <= TOOL_RESULT_CLIP else text[:TOOL_RESULT_CLIP] + " …[clipped]"
            lines.append(f"TOOL RESULT: {text}")
            continue
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            text += f"\n[calls {fn.get('name')}({fn.get('arguments') or ''})]"
        lines.append(f"{role.upper()}: {text.strip()}")
    text = "\n\n".join(lines)
    if len(text) > max_chars:  # keep both ends: how it started and where it got to
        half = max_chars // 2
        text = f"{text[:half]}\n\n[… {len(text) - 2 * half:,} characters not shown …]\n\n{text[-half:]}"
    return text


def summarise(client: Any, model: str | None, window: int, messages: list[dict[str, Any]],
              interrupt: Any = None) -> tuple[str, dict[str, Any]]:
    """One model call with this client and model; raises on any failure or an empty answer."""
    max_chars = window * CHARS_PER_TOKEN // 2  # leaves half the window for the reply
    params = {"model": model, "messages": [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": "Summarise this part of the conversation:\n\n" + transcript(messages, max_chars)},
    ]}
    started = time.monotonic()
    try:
        completion = llm.complete(client, params, stream=False, interrupt=interrupt)
    except Exception:
        if interrupt is not None and interrupt.is_set():  # the call was cut (agent/cancel.py)
            raise Interrupted("interrupted") from None
        raise
    summary = (completion.content or "").strip()
    if not summary:
        raise ValueError("the model returned an empty summary")
    return summary, {"usage": completion.usage, "latency": round(time.monotonic() - started, 4)}


def _todo_note(replaced: list[dict[str, Any]]) -> str:
    """The model's task list as the replaced messages (and those before) left it, for the summary to
    end with (tools/todo_tool.py): the `todo` calls go, the list must not. Nothing if it was never written."""
    todos = todo_tool.state_of(replaced)
    return "" if todos is None else todo_tool.note(todos)


def summary_message(summary: str, todo_note: str = "") -> dict[str, Any]:
    return {"role": "user", "content": f"{SUMMARY_PREFIX} {summary}]{todo_note}"}


def omitted_message(count: int, error: str, todo_note: str = "") -> dict[str, Any]:
    return {"role": "user", "content": f"{OMITTED_PREFIX} {count} messages were dropped to fit the context "
                                       f"window because summarising them failed ({error}).]{todo_note}"}


# -- doing it ----------------------------------------------------------------------------------
def compress(conversation: Conversation, reason: str, summarise: Summarise,
             before: Callable[[str], None] | None = None) -> Outcome:
    """Replace the middle of the history with a summary; if that fails, keep what fits.
    `before(reason)` runs first (the agent's PreCompact hooks)."""
    if before is not None:
        before(reason)
    messages, budget = conversation.messages, conversation.budget
    before = current_tokens(conversation)
    span = middle_span(messages, budget.keep_last)
    if span is None:
        return Outcome(f"nothing to compress: {len(messages)} messages, ≈{before:,} tokens "
                       f"of a {budget.window:,}-token window", stuck=True)
    start, end = span
    try:
        summary, call = summarise(messages[start:end])
    except Interrupted:
        raise  # the caller says so; the history stays as it is
    except Exception as exc:  # KeyboardInterrupt passes too: the caller treats it as an interrupt
        return _fallback(conversation, reason, start, before, describe_error(exc))
    # Before and after are both what the next request would send (system prompt, tools, messages),
    # estimated alike: the server's count of the last prompt is not comparable with an estimate.
    sent = request_tokens(conversation)
    message = summary_message(summary, _todo_note(messages[:end]))
    result, new = _replace(conversation, start, end - start, message, summary, sent, None)
    if result.tokens_after >= sent:
        return Outcome(f"nothing worth compressing: a summary of the {end - start} earlier messages would not "
                       f"shrink the context (≈{sent:,} tokens of {budget.window:,}); the history is unchanged",
                       usage=call.get("usage"), stuck=True)
    notice = (f"compressed {end - start} earlier messages into a summary ({reason}): "
              f"context ≈{sent:,} → {result.tokens_after:,} tokens of {budget.window:,}")
    event = {"start": start, "replaced_count": end - start, "summary": summary, "message": result.message,
             "reason": reason, "tokens_before": sent, "tokens_after": result.tokens_after, **call}
    return Outcome(notice, new, result, event, usage=call.get("usage"))


def _replace(conversation: Conversation, start: int, count: int, message: dict[str, Any], summary: str | None,
             before: int, error: str | None) -> tuple[Compression, list[dict[str, Any]]]:
    new = [*conversation.messages[:start], message, *conversation.messages[start + count:]]
    return Compression(start, count, message, summary, before, request_tokens(conversation, new), error), new


def _fallback(conversation: Conversation, reason: str, start: int, before: int, error: str) -> Outcome:
    """The summary failed: keep everything if it fits the window, else drop the oldest middle messages."""
    messages, budget = conversation.messages, conversation.budget
    if before <= budget.window:
        return Outcome(f"could not summarise older messages ({error}); kept all {len(messages)} "
                       f"messages (≈{before:,} tokens of {budget.window:,})")
    # Drop from the oldest until the request fits under the compression limit, never past the tail.
    sizes = [message_tokens(m) for m in messages]
    total = request_tokens(conversation) + message_tokens(omitted_message(len(messages), error))
    cut = start
    limit = _safe_cut(messages, len(messages) - 1)  # the newest step (a call and its results) always stays
    while cut < limit and total > budget.limit:
        total -= sizes[cut]
        cut += 1
    while cut < limit and _is_result(messages[cut], messages[cut - 1]):
        cut += 1  # results whose call was dropped go too
    count = cut - start
    if count <= 0:
        return Outcome(f"could not summarise older messages ({error}) and nothing older can be dropped")
    marker = omitted_message(count, error, _todo_note(messages[:cut]))
    before = request_tokens(conversation)  # reported like the after figure: what a request sends
    result, new = _replace(conversation, start, count, marker, None, before, error)
    event = {"start": start, "replaced_count": count, "summary": None, "message": marker, "reason": reason,
             "error": error, "tokens_before": before, "tokens_after": result.tokens_after}
    notice = (f"could not summarise older messages ({error}); dropped the {count} oldest messages "
              f"to fit the {budget.window:,}-token window (≈{before:,} → {result.tokens_after:,})")
    return Outcome(notice, new, result, event)


def due(conversation: Conversation) -> bool:
    """Whether the prompt would pass threshold × window (cheap: no model call)."""
    budget = conversation.budget
    if budget.stuck_at is not None and len(conversation.messages) < budget.stuck_at + budget.keep_last:
        return False  # nothing could be compressed a moment ago; wait for more history
    return current_tokens(conversation) > budget.limit


def maybe_compress(conversation: Conversation, summarise: Summarise,
                   before: Callable[[str], None] | None = None) -> Outcome | None:
    """Before a model call: compress when the prompt would pass threshold × window; None when not due."""
    if not due(conversation):
        return None
    budget = conversation.budget
    return compress(conversation, f"context above {budget.threshold:.0%} of the window", summarise, before)
