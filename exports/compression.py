"""Fit one ShareGPT trajectory under a token budget by summarising its middle (formats.md §1.5).

Protected: the first system, human, gpt and tool turns (and everything before the last of them)
and the last N turns. From the start of the middle, only as many turns as needed to reach the
budget are replaced by one human turn `[CONTEXT SUMMARY]: …`; a gpt turn's `<tool_call>` and the
tool turn answering it always stay on the same side. If the summary cannot be written the sample
is returned unchanged with the error: never silently truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SUMMARY_PREFIX = "[CONTEXT SUMMARY]:"
SUMMARY_NOTICE = "\n\nSome of your previous tool responses may be summarized to preserve context."


@dataclass
class CompressionConfig:
    target_max_tokens: int = 15250
    summary_target_tokens: int = 750
    protect_first_system: bool = True
    protect_first_human: bool = True
    protect_first_gpt: bool = True
    protect_first_tool: bool = True
    protect_last_n_turns: int = 4
    add_summary_notice: bool = True


class SummaryError(Exception):
    """The summarising model call failed; the message says why."""


Summarize = Callable[[list[dict[str, str]]], str]  # region turns -> summary text (raises SummaryError)
CountTokens = Callable[[list[str]], list[int]]


def _head_end(turns: list[dict[str, str]], config: CompressionConfig) -> int:
    wanted = {"system": config.protect_first_system, "human": config.protect_first_human,
              "gpt": config.protect_first_gpt, "tool": config.protect_first_tool}
    last = -1
    seen: set[str] = set()
    for index, turn in enumerate(turns):
        role = turn.get("from", "")
        if wanted.get(role) and role not in seen:
            seen.add(role)
            last = index
    return last + 1


def plan_region(tokens: list[int], turns: list[dict[str, str]], config: CompressionConfig) -> tuple[int, int] | None:
    """[start, end) of the turns to summarise, or None when the budget is met or nothing may go."""
    need = sum(tokens) - config.target_max_tokens
    if need <= 0:
        return None
    start = _head_end(turns, config)
    tail = max(len(turns) - config.protect_last_n_turns, 0)
    while start < tail and turns[start].get("from") == "tool":
        start += 1  # answers to a protected call stay with it
    end, saved = start, -config.summary_target_tokens
    while end < tail and saved < need:
        saved += tokens[end]
        end += 1
    while end < tail and turns[end].get("from") == "tool":
        end += 1  # take the answers along with the call
    while end > start and end < len(turns) and turns[end].get("from") == "tool":
        end -= 1  # the answers are protected, so their call must stay too
    return (start, end) if end > start else None


def compress(record: dict[str, Any], count: CountTokens, summarize: Summarize,
             config: CompressionConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record to write, metrics). The record is the input itself unless it was compressed."""
    turns: list[dict[str, str]] = record.get("conversations") or []
    tokens = count([t.get("value", "") for t in turns])
    original = sum(tokens)
    metrics: dict[str, Any] = {
        "status": "within_budget", "original_tokens": original, "compressed_tokens": original,
        "compression_ratio": 1.0, "turns_before": len(turns), "turns_after": len(turns),
        "compression_region": None, "summary_tokens": 0, "error": None,
    }
    if original <= config.target_max_tokens:
        return record, metrics
    region = plan_region(tokens, turns, config)
    if region is None:
        metrics["status"] = "over_budget_nothing_to_compress"
        return record, metrics
    start, end = region
    try:
        summary = summarize(turns[start:end]).strip()
        if not summary:
            raise SummaryError("the model returned an empty summary")
    except SummaryError as exc:
        metrics.update(status="failed", error=str(exc))
        return record, metrics
    new_turns = [dict(t) for t in turns[:start]]
    new_turns.append({"from": "human", "value": f"{SUMMARY_PREFIX} {summary}"})
    new_turns.extend(dict(t) for t in turns[end:])
    if config.add_summary_notice and new_turns and new_turns[0].get("from") == "system":
        new_turns[0]["value"] += SUMMARY_NOTICE
    new_tokens = sum(count([t["value"] for t in new_turns]))
    metrics.update(
        status="compressed" if new_tokens <= config.target_max_tokens else "compressed_still_over_budget",
        compressed_tokens=new_tokens, compression_ratio=round(new_tokens / original, 4) if original else 1.0,
        turns_after=len(new_turns), summary_tokens=count([new_turns[start]["value"]])[0],
        compression_region={"start_idx": start, "end_idx": end, "turns_count": end - start},
    )
    return {**record, "conversations": new_turns}, metrics


def region_text(turns: list[dict[str, str]]) -> str:
    return "\n\n".join(f"[{t.get('from', '?')}]: {t.get('value', '')}" for t in turns)
