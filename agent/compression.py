"""Context compression: summarise older messages when the conversation nears the model's window.

Kept: the system prompt (never in `messages`), the first user message and the last few messages
(moved back so an assistant tool call always stays with its results). The middle becomes one
user message "[Summary of earlier conversation: …]" written by the agent's own model in one call.

If that call fails nothing is dropped silently: everything is kept when it still fits the window;
otherwise the oldest middle messages are dropped until the rest fits, an "[Earlier conversation
omitted: …]" marker takes their place, and a Notice says how many went and why.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent import llm
from agent.events import Notice
from agent.retry import describe_error
from recording.reader import OMITTED_PREFIX, SUMMARY_PREFIX
from recording.sharegpt import text_of

if TYPE_CHECKING:
    from run_agent import AIAgent

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


# -- sizes -------------------------------------------------------------------------------------
def message_tokens(message: dict[str, Any]) -> int:
    return len(json.dumps(message, ensure_ascii=False)) // CHARS_PER_TOKEN + 1


def request_tokens(agent: AIAgent, messages: list[dict[str, Any]] | None = None) -> int:
    """chars/4 estimate of a whole request: system prompt, tool schemas, messages."""
    fixed = len(agent.system_prompt or "") + (len(json.dumps(agent.tools)) if agent.tools else 0)
    return fixed // CHARS_PER_TOKEN + sum(message_tokens(m) for m in (agent.messages if messages is None else messages))


def current_tokens(agent: AIAgent) -> int:
    """The last call's prompt_tokens plus an estimate for messages added since; else an estimate."""
    last = agent.context.last_prompt
    if last is not None and last[1] <= len(agent.messages):
        return last[0] + sum(message_tokens(m) for m in agent.messages[last[1]:])
    return request_tokens(agent)


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


def summarise(agent: AIAgent, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """One model call with the agent's client and model; raises on any failure or an empty answer."""
    max_chars = agent.context.window * CHARS_PER_TOKEN // 2  # leaves half the window for the reply
    params = {"model": agent.model, "messages": [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": "Summarise this part of the conversation:\n\n" + transcript(messages, max_chars)},
    ]}
    started = time.monotonic()
    completion = llm.complete(agent.client, params, stream=False, interrupt=agent.interrupt_event)
    summary = (completion.content or "").strip()
    if not summary:
        raise ValueError("the model returned an empty summary")
    return summary, {"usage": completion.usage, "latency": round(time.monotonic() - started, 4)}


def summary_message(summary: str) -> dict[str, Any]:
    return {"role": "user", "content": f"{SUMMARY_PREFIX} {summary}]"}


def omitted_message(count: int, error: str) -> dict[str, Any]:
    return {"role": "user", "content": f"{OMITTED_PREFIX} {count} messages were dropped to fit the context "
                                       f"window because summarising them failed ({error}).]"}


# -- doing it ----------------------------------------------------------------------------------
def compress(agent: AIAgent, reason: str) -> Compression | None:
    """Replace the middle of the history with a summary; on failure keep what fits. Notices say what happened."""
    if getattr(agent, "hooks", None):  # PreCompact hooks (issue 17)
        agent.hooks.pre_compact(agent, "manual" if reason.startswith("requested") else "auto")
    messages = agent.messages
    before = current_tokens(agent)
    span = middle_span(messages, agent.context.keep_last)
    if span is None:
        agent.context.stuck_at = len(messages)
        agent.on_event(Notice(f"nothing to compress: {len(messages)} messages, ≈{before:,} tokens "
                              f"of a {agent.context.window:,}-token window"))
        return None
    start, end = span
    try:
        summary, call = summarise(agent, messages[start:end])
    except Exception as exc:  # KeyboardInterrupt passes: the caller treats it as an interrupt
        return _fallback(agent, reason, start, end, before, describe_error(exc))
    agent.add_usage(call["usage"])
    result = _apply(agent, start, end - start, summary_message(summary), summary, before, None)
    agent.record_history_change("context_compressed", start=start, replaced_count=end - start, summary=summary,
                                message=result.message, reason=reason, tokens_before=before,
                                tokens_after=result.tokens_after, **call)
    agent.on_event(Notice(f"compressed {end - start} earlier messages into a summary ({reason}): "
                          f"context ≈{before:,} → {result.tokens_after:,} tokens of {agent.context.window:,}"))
    return result


def _apply(agent: AIAgent, start: int, count: int, message: dict[str, Any], summary: str | None,
           before: int, error: str | None) -> Compression:
    agent.messages[start:start + count] = [message]
    agent.context.forget()
    return Compression(start, count, message, summary, before, request_tokens(agent), error)


def _fallback(agent: AIAgent, reason: str, start: int, end: int, before: int, error: str) -> Compression | None:
    """The summary failed: keep everything if it fits the window, else drop the oldest middle messages."""
    messages = agent.messages
    if before <= agent.context.window:
        agent.on_event(Notice(f"could not summarise older messages ({error}); kept all {len(messages)} "
                              f"messages (≈{before:,} tokens of {agent.context.window:,})"))
        return None
    # Drop from the oldest until the request fits under the compression limit, never past the tail.
    sizes = [message_tokens(m) for m in messages]
    total = request_tokens(agent) + message_tokens(omitted_message(len(messages), error))
    cut = start
    limit = _safe_cut(messages, len(messages) - 1)  # the newest step (a call and its results) always stays
    while cut < limit and total > agent.context.limit:
        total -= sizes[cut]
        cut += 1
    while cut < limit and _is_result(messages[cut], messages[cut - 1]):
        cut += 1  # results whose call was dropped go too
    count = cut - start
    if count <= 0:
        agent.on_event(Notice(f"could not summarise older messages ({error}) and nothing older can be dropped"))
        return None
    marker = omitted_message(count, error)
    result = _apply(agent, start, count, marker, None, before, error)
    agent.record_history_change("context_compressed", start=start, replaced_count=count, summary=None,
                                message=marker, reason=reason, error=error, tokens_before=before,
                                tokens_after=result.tokens_after)
    agent.on_event(Notice(f"could not summarise older messages ({error}); dropped the {count} oldest messages "
                          f"to fit the {agent.context.window:,}-token window (≈{before:,} → {result.tokens_after:,})"))
    return result


def maybe_compress(agent: AIAgent) -> Compression | None:
    """Before a model call: compress when the prompt would pass threshold × window."""
    budget = agent.context
    if budget.stuck_at is not None and len(agent.messages) < budget.stuck_at + budget.keep_last:
        return None  # nothing could be compressed a moment ago; wait for more history
    if current_tokens(agent) <= budget.limit:
        return None
    return compress(agent, f"context above {budget.threshold:.0%} of the window")
