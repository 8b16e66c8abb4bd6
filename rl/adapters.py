"""Rollout results in the shapes RL trainers take (exports/adapters.py's conventions, shared code).

- Atropos `ScoredDataGroup`: `atropos_group(results)`, one group per item (N rollouts of one
  prompt); every policy sequence of every rollout is a row (a trainer must accept more than one
  per rollout when the history was rewritten), masks = token id where trained else -100,
  `inference_logprobs` = the sampled logprob where trained, 1.0 elsewhere (null for the group
  when some sequence has none).
- verl `AgentLoopOutput` fields: `verl_output(result)` (one sequence per rollout, as verl's loop
  returns one; a rollout with several raises, rather than dropping turns silently).
"""

from __future__ import annotations

from typing import Any

from exports import adapters
from exports.rollout import NO_LOGPROB
from rl.types import RolloutResult, TokenSequence


def sequence_record(result: RolloutResult, seq: TokenSequence) -> dict[str, Any]:
    """One sequence as an exports rollout record (what exports/adapters.py converts)."""
    return {
        "tokens": seq.tokens, "loss_mask": seq.mask, "prompt_len": seq.prompt_len,
        "logprobs": seq.logprobs if seq.logprobs is not None else [NO_LOGPROB] * len(seq.tokens),
        "reward": result.reward, "turn_spans": [], "session_id": result.session_id,
        "sample": result.sequences.index(seq), "calls": seq.calls, "token_source": result.token_source,
        "finish_reason": seq.finish_reason, "truncated": seq.finish_reason == "length",
        "completed": result.status == "success",
    }


def atropos_group(results: list[RolloutResult]) -> dict[str, Any]:
    """One ScoredDataGroup from the rollouts of one item; `scores` are their rewards (0.0 for none)."""
    records, messages = [], []
    for result in results:
        for seq in result.policy_sequences:
            records.append(sequence_record(result, seq))
            messages.append(adapters.atropos_messages("", result.messages))
    if not records:
        raise ValueError("no policy sequences in these rollouts (did they run through a TokenProxy?)")
    return adapters.atropos_group(records, messages)


def verl_output(result: RolloutResult) -> dict[str, Any]:
    """The fields of verl's AgentLoopOutput for one rollout (reward_score = the verifier's reward)."""
    sequences = result.policy_sequences
    if len(sequences) != 1:
        raise ValueError(f"rollout {result.task_id} has {len(sequences)} policy sequences; verl's agent loop "
                         "returns one (keep compression off, or train the sequences as separate samples)")
    row = adapters.verl_row(sequence_record(result, sequences[0]))
    row["num_turns"] = sum(1 for m in result.messages if m.get("role") in ("user", "assistant", "tool"))
    row["metrics"] = {"generate_sequences": 0.0, "tool_calls": result.metrics.get("tool_calls", 0.0),
                      "compute_score": result.metrics.get("verify_seconds", 0.0), "num_preempted": -1}
    return row
