"""Rollouts as trainer input: an Atropos group checked by atroposlib's own API (model and server),
a verl row checked by verl's AgentLoopOutput (from its wheel, fetched once per machine; skipped offline)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from standin import StandIn, tool_then_answer

from rl.adapters import atropos_group, verl_output
from rl.backends import sglang_generate
from rl.proxy import TokenProxy
from rl.runner import rollout, rollout_sync
from rl.types import RolloutSpec
from tests.exports.test_consumers_verl import verl_models  # at import: it reads HERMES_VERL_WHEEL then
from tests.exports.toolkit import atropos_batch


def run_group(tokenizer_dir, chat_tokenizer, words):
    standin = StandIn(chat_tokenizer, tool_then_answer).start()

    def verify(ctx):
        return 1.0 if ctx.exec("cat answer.txt").output.strip() == "alpha" else 0.0

    async def main():
        with TokenProxy(tokenizer_dir, sglang_generate(standin.url)) as proxy:
            return await asyncio.gather(*(rollout(RolloutSpec(prompt=f"Write {w}"), proxy=proxy, verify=verify)
                                          for w in words))
    try:
        return asyncio.run(main()), standin
    finally:
        standin.close()


@pytest.mark.skipif(importlib.util.find_spec("atroposlib") is None, reason="atroposlib is not installed (dev extra)")
def test_atropos_group_passes_its_api(tokenizer_dir, chat_tokenizer, tmp_path):
    from atroposlib.api import server as api

    results, _ = run_group(tokenizer_dir, chat_tokenizer, ["alpha", "bravo"])
    group = atropos_group(results)
    api.ScoredData(**group)
    assert group["scores"] == [1.0, 0.0] and group["group_overrides"] == {"group_size": 2}
    for tokens, masks, lps, result in zip(group["tokens"], group["masks"], group["inference_logprobs"], results,
                                          strict=True):
        seq = result.sequences[0]
        assert tokens == seq.tokens and len(masks) == len(lps) == len(tokens)
        assert all(m == t for m, t, k in zip(masks, tokens, seq.mask, strict=True) if k)
        assert all(m == -100 and lp == 1.0 for m, lp, k in zip(masks, lps, seq.mask, strict=True) if not k)
    assert atropos_batch(group, tmp_path) is not None


def test_verl_output_validates_as_agent_loop_output(tokenizer_dir, chat_tokenizer):
    models = verl_models()  # skips when verl's wheel cannot be fetched
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    try:
        with TokenProxy(tokenizer_dir, sglang_generate(standin.url)) as proxy:
            result = rollout_sync(RolloutSpec(prompt="Write alpha"), proxy=proxy, verify=lambda ctx: 0.5)
    finally:
        standin.close()
    row = verl_output(result)
    out = models["AgentLoopOutput"](**{k: v for k, v in row.items() if k != "extra_fields"})
    assert out.reward_score == 0.5 and out.num_turns == 4
    assert out.prompt_ids + out.response_ids == result.sequences[0].tokens
    assert sum(out.response_mask) == sum(len(c.completion_ids) for c in result.calls)
