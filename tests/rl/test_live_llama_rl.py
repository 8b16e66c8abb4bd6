"""Live: a rollout through `rl.rollout_sync` + `rl.TokenProxy` (SGLang `/generate` backend) against a
random-weight GGUF served by llama-cpp-python (tests/llama_gguf.py `serve`: llama.cpp evaluates the
prompt ids it is given and samples token by token). The sequence the proxy recorded — prompt ids,
sampled ids, their logprobs — is then re-scored by llama.cpp in one teacher-forced pass: the same
logprobs at every trained position mean the recorded tokens are the ones the model saw and sampled,
with each logprob on its own token. The same sequence without the prompt token just before the
completion scores visibly differently, so the check would notice a prompt off by one token.

Needs an interpreter with llama-cpp-python (tests/llama_live.py: this one or $HERMES_LLAMA_PYTHON);
skipped with the reason otherwise.
"""

from __future__ import annotations

import statistics

import pytest

from tests.exports.toolkit import HERMES_TEMPLATE
from tests.llama_live import build_model, free_port, llama_python, rescore, running

pytestmark = pytest.mark.live
CTX = 4096  # the random model never samples its end token: every call ends at max_tokens
MAX_TOKENS = 48


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server root URL, tokenizer dir, gguf path, llama python)."""
    from tests.llama_live import BUILDER

    python = llama_python()
    root = tmp_path_factory.mktemp("llama_rl")
    tok_dir, model = build_model(root, python, template=HERMES_TEMPLATE, ctx=CTX)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([python, str(BUILDER), "serve", str(model), str(CTX), str(port)], f"{url}/health",
                 root / "server.log"):
        yield url, tok_dir, model, python


@pytest.mark.timeout(600)
def test_rollout_logprobs_match_a_teacher_forced_recompute(served, tmp_path):
    from rl import RolloutSpec, TokenProxy, rollout_sync, sglang_generate

    url, tok_dir, model, python = served
    spec = RolloutSpec(prompt="Say hello, then list the files here.", max_turns=3, log_dir=tmp_path / "logs",
                       sampling={"max_tokens": MAX_TOKENS, "temperature": 1.0, "seed": 7})
    with TokenProxy(str(tok_dir), sglang_generate(url)) as proxy:
        result = rollout_sync(spec, proxy=proxy)

    sequences = result.policy_sequences
    assert sequences and result.calls, result.status
    sampled = sum(len(c.completion_ids) for c in result.calls)
    assert all(c.finish_reason == "length" and len(c.completion_ids) == MAX_TOKENS for c in result.calls)
    deltas, shifted, trained_total = [], [], 0
    for seq in sequences:
        trained = [i for i, m in enumerate(seq.mask) if m]
        trained_total += len(trained)
        recorded = [seq.logprobs[i] for i in trained]
        assert all(lp < 0 for lp in recorded)
        deltas += [abs(a - b) for a, b in zip(rescore(python, model, CTX, seq.tokens, trained), recorded, strict=True)]
        # control: the last prompt token before the completion dropped (a prompt that is off by one token)
        cut = trained[0] - 1
        dropped = seq.tokens[:cut] + seq.tokens[cut + 1:]
        shifted += [abs(a - b) for a, b in zip(rescore(python, model, CTX, dropped, [i - 1 for i in trained]),
                                               recorded, strict=True)]
    assert trained_total == sampled  # every sampled token is trained, nothing else is
    median, worst = statistics.median(deltas), max(deltas)
    assert median < 1e-3 and worst < 0.05, (median, worst)
    assert max(shifted) > 0.2, max(shifted)
    print(f"\nrl rollout via TokenProxy over llama.cpp: {len(result.calls)} calls, {len(sequences)} sequence(s), "
          f"{sum(len(s.tokens) for s in sequences)} tokens, {sampled} sampled; |logprob - re-scored| median "
          f"{median:.1e} max {worst:.1e} (one prompt token dropped: median {statistics.median(shifted):.2f}, "
          f"max {max(shifted):.2f})")
