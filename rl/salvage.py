"""Exactly one training row per rollout, whatever the rollout produced (verl's agent loop and SkyRL's
generator take one per sample; one odd rollout must not fail a whole training step).

- One policy sequence: that sequence.
- Several (a prompt stopped extending the previous one: compression or another history rewrite
  started a new sequence): the LAST one, the one that ends in the final answer the reward judges.
  (verl: the last whose prompt fits its prompt_length.) The earlier ones are not trained; the
  count goes into the row's metrics and a warning is logged.
  Concatenating them would train on a context the model never saw, so that is never done.
- None (the endpoint failed on the first call, the agent failed to start, the rollout was cut
  before any generation): a placeholder row, the rollout's first prompt (or the row's messages
  rendered with the chat template when no call got that far) and ONE filler token (the end-of-text
  id) with mask 0 and logprob 0.0, reward 0. Fully masked rows are how both frameworks already
  drop samples from the loss (verl's agg_loss skips them; SkyRL zeroes masks to filter). One token
  rather than none: both put the sequence reward on the last response position (verl
  `rm_scores[..., len - 1]`, SkyRL `per_token_reward[-1]`), which an empty response does not have.
- A sequence whose response is empty (the engine sampled nothing): the same placeholder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rl.types import RolloutResult, RolloutSpec, TokenSequence

log = logging.getLogger("hermes.rl")


@dataclass
class Row:
    """The one row a rollout trains as (prompt, response, 0/1 mask, logprobs per response token)."""

    prompt_ids: list[int]
    response_ids: list[int]
    mask: list[int]
    logprobs: list[float] | None
    sequences: int  # policy sequences the rollout produced
    trained: int | None  # index of the sequence this row is, None for a placeholder
    failed: str | None = None  # why nothing of this rollout is trained (None: a real row)

    def info(self) -> dict[str, Any]:
        """What the row says about itself in a framework's per-sample metrics."""
        return {"sequences": self.sequences, "trained_sequence": self.trained, "failed": self.failed}


def filler_id(tokenizer: Any) -> int:
    """The end-of-text id (else the pad id, else 0): a token every tokenizer has."""
    from rl.tracker import load_chat_tokenizer

    chat = load_chat_tokenizer(tokenizer)
    hf = chat.hf
    for value in (getattr(hf, "eos_token_id", None), min(chat.eot_ids, default=None),
                  getattr(hf, "pad_token_id", None)):
        if isinstance(value, int):
            return value
    return 0


def rendered_prompt(tokenizer: Any, spec: RolloutSpec) -> list[int]:
    """The row's own messages through the chat template: the prompt of a rollout that made no call
    (hermes' system prompt and tools are unknown then; the row is masked out anyway)."""
    from exports.tokenizer import template_messages
    from rl.tracker import load_chat_tokenizer

    chat = load_chat_tokenizer(tokenizer)
    messages = list(spec.messages) if spec.messages is not None else [{"role": "user", "content": spec.prompt}]
    if spec.system_prompt:
        messages = [{"role": "system", "content": spec.system_prompt}, *messages]
    return list(chat.encode(chat.render_text(template_messages(messages), None, add_generation_prompt=True)))


def one_row(result: RolloutResult, *, fallback_prompt: Callable[[], list[int]], filler: Callable[[], int],
            logprobs: bool, fits: Callable[[TokenSequence], bool] = lambda seq: True) -> Row:
    """The rollout as one row (module docstring). `fits(seq)`: whether the trainer can take a
    sequence's prompt; the last sequence that fits is trained. `logprobs`: the placeholder has them.
    `filler()` / `fallback_prompt()` are called only for a placeholder (reading a vocabulary costs)."""
    sequences = result.policy_sequences
    count = len(sequences)
    why = f"{result.status}: {result.error}" if result.error else result.status
    if not sequences:
        prompt = list(result.first_prompt_ids or fallback_prompt())
        log.warning("hermes rollout %s produced no token sequence (%s); it trains as a masked-out placeholder "
                    "row with reward 0", result.task_id, why)
        return Row(prompt, [filler()], [0], [0.0] if logprobs else None, 0, None,
                   f"no token sequence ({why})")
    index = next((i for i in reversed(range(count)) if fits(sequences[i])), count - 1)
    seq = sequences[index]
    if count > 1:
        log.warning("hermes rollout %s has %d token sequences (a prompt stopped extending the previous one, e.g. "
                    "compression); training only sequence %d, the others are dropped", result.task_id, count, index + 1)
    split = seq.prompt_len
    if len(seq.tokens) == split:  # the engine sampled nothing at all: no position to carry the reward
        log.warning("hermes rollout %s sampled no token (%s); it trains as a masked-out placeholder row with "
                    "reward 0", result.task_id, why)
        return Row(seq.tokens[:split], [filler()], [0], [0.0] if logprobs else None, count, index,
                   f"empty response ({why})")
    return Row(seq.tokens[:split], seq.tokens[split:], seq.mask[split:],
               None if seq.logprobs is None else seq.logprobs[split:], count, index)
