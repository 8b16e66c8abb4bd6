"""Rollout records in the shapes RL trainers read (formats.md §5.1–5.3).

Atropos `ScoredDataGroup`: one group per session (or per first prompt, to group repeated
attempts at one task), `masks` = token id where trained else -100, `inference_logprobs` = the
server's logprob where trained and 1.0 (Atropos' "masked") elsewhere, or null for the group when
some trained token has none, `scores` = the reward (0.0 when none was given), `messages` = each
sequence's conversation as role + content.

verl `AgentLoopOutput`-style rows (SkyRL reads the same fields as prompt_token_ids / loss_masks /
rollout_logprobs): the first prompt, then every later token as the response, mask 1 where trained,
logprobs 0.0 elsewhere (null when some trained token has no server logprob: verl recomputes them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from exports.rollout import NO_LOGPROB
from recording.sharegpt import text_of

ATROPOS_IGNORE = -100
ATROPOS_NO_LOGPROB = 1.0

_META = ("session_id", "sample", "calls", "model", "token_source", "tokenizer", "tokenizer_sha256",
         "chat_template_sha256", "finish_reason", "truncated", "completed")
_BATCH_META = ("group_id", "group_sample")  # only in records of `hermes batch` sessions


def meta(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in _META} | {key: record[key] for key in _BATCH_META if key in record}


def atropos_messages(system_prompt: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as Atropos' `Message`s (role + text content; tool calls as their JSON), for
    its viewer and API, which require `role` and `content` on every message."""
    out = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for message in messages:
        role = message.get("role")
        if role not in ("user", "assistant", "tool", "system"):
            continue
        content = text_of(message.get("content"))
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            content += ("\n" if content else "") + json.dumps({"name": fn.get("name"), "arguments": fn.get("arguments")},
                                                               ensure_ascii=False)
        out.append({"role": role, "content": content})
    return out


def _trained_logprobs_known(record: dict[str, Any]) -> bool:
    return all(lp != NO_LOGPROB for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True) if m)


def atropos_group(records: list[dict[str, Any]], messages: list[list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """One ScoredDataGroup. `inference_logprobs` only when every trained position of every
    sequence has the server's logprob (1.0, Atropos' "masked", fills untrained positions): a
    filler at a trained position would be read as the sampling policy's logprob."""
    with_logprobs = all(_trained_logprobs_known(r) for r in records)
    return {
        "tokens": [r["tokens"] for r in records],
        "masks": [[t if m else ATROPOS_IGNORE for t, m in zip(r["tokens"], r["loss_mask"], strict=True)]
                  for r in records],
        "scores": [float(r["reward"]) if r["reward"] is not None else 0.0 for r in records],
        "inference_logprobs": [
            [lp if m else ATROPOS_NO_LOGPROB for lp, m in zip(r["logprobs"], r["loss_mask"], strict=True)]
            for r in records
        ] if with_logprobs else None,
        "advantages": None,
        "ref_logprobs": None,
        "messages": messages if messages is not None else [[] for _ in records],
        "generation_params": None,
        "group_overrides": {"group_size": len(records)},
        "overrides": [{"hermes": meta(r)} for r in records],
        "images": [],
    }


def atropos_groups(records: Iterable[dict[str, Any]], key: str = "session_id") -> Iterator[dict[str, Any]]:
    """Groups of consecutive records sharing `key` (records arrive session by session)."""
    group: list[dict[str, Any]] = []
    for record in records:
        if group and record.get(key) != group[0].get(key):
            yield atropos_group(group)
            group = []
        group.append(record)
    if group:
        yield atropos_group(group)


def verl_row(record: dict[str, Any]) -> dict[str, Any]:
    split = record["prompt_len"]
    tokens, mask, logprobs = record["tokens"], record["loss_mask"], record["logprobs"]
    return {
        "prompt_ids": tokens[:split],
        "response_ids": tokens[split:],
        "response_mask": mask[split:],
        # None (verl recomputes them) unless every trained token has the server's logprob
        "response_logprobs": [lp if m else 0.0 for lp, m in zip(logprobs[split:], mask[split:], strict=True)]
        if _trained_logprobs_known(record) else None,
        "reward_score": record["reward"],
        "num_turns": sum(1 for s in record["turn_spans"] if s["role"] != "template"),
        # required by AgentLoopOutput; hermes does not time these, so verl's defaults
        "metrics": {"generate_sequences": 0.0, "tool_calls": 0.0, "compute_score": 0.0, "num_preempted": -1},
        "extra_fields": meta(record),
    }
