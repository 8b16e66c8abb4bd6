"""Rollout records in the shapes RL trainers read (formats.md §5.1–5.3).

Atropos `ScoredDataGroup`: one group per session (or per first prompt, to group repeated
attempts at one task), `masks` = token id where trained else -100, `inference_logprobs` = 1.0
where masked or unknown (Atropos' own padding), `scores` = the reward (0.0 when none was given).

verl `AgentLoopOutput`-style rows (SkyRL reads the same fields as prompt_token_ids / loss_masks /
rollout_logprobs): the first prompt, then every later token as the response, mask 1 where trained,
logprobs 0.0 elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

ATROPOS_IGNORE = -100
ATROPOS_NO_LOGPROB = 1.0

_META = ("session_id", "sample", "calls", "model", "token_source", "tokenizer", "tokenizer_sha256",
         "chat_template_sha256", "finish_reason", "truncated", "completed")


def meta(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in _META}


def atropos_group(records: list[dict[str, Any]]) -> dict[str, Any]:
    with_logprobs = any(r["logprobs"] is not None for r in records)
    return {
        "tokens": [r["tokens"] for r in records],
        "masks": [[t if m else ATROPOS_IGNORE for t, m in zip(r["tokens"], r["loss_mask"], strict=True)]
                  for r in records],
        "scores": [float(r["reward"]) if r["reward"] is not None else 0.0 for r in records],
        "inference_logprobs": [
            [lp if (lp is not None and m) else ATROPOS_NO_LOGPROB
             for lp, m in zip(r["logprobs"] or [None] * len(r["tokens"]), r["loss_mask"], strict=True)]
            for r in records
        ] if with_logprobs else None,
        "advantages": None,
        "ref_logprobs": None,
        "messages": None,
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
        "response_logprobs": [lp if (lp is not None and m) else 0.0 for lp, m in zip(logprobs[split:], mask[split:],
                                                                                 strict=True)]
        if logprobs is not None else None,
        "reward_score": record["reward"],
        "num_turns": sum(1 for s in record["turn_spans"] if s["role"] != "template"),
        "extra_fields": meta(record),
    }
