"""Live: `hermes -p … --rollout` against a real llama-cpp-python server serving a random-weight GGUF
built here (numpy + `gguf`, no torch) from a BPE tokenizer trained here; the rollout export must
carry the ids the model sampled and the logprobs the server computed, checked against llama.cpp
itself re-scoring the exported tokens.

llama-cpp-python sends no token ids: only each sampled token's text and logprob, and only when the
request sets `top_logprobs` (which `--rollout` does). The export maps each piece to its token
(token_source `local_render`: the prompt is rendered here with the same template).

Needs an interpreter with llama-cpp-python (see tests/llama_live.py: this one or $HERMES_LLAMA_PYTHON);
skipped with the reason otherwise.
"""

from __future__ import annotations

import pytest

from tests.conftest import run_hermes
from tests.exports.toolkit import read_jsonl_text
from tests.llama_live import build_model, free_port, llama_python, rescore, running

pytestmark = pytest.mark.live
CTX = 1024  # the random model never samples its end token: it writes until the context is full
# Plain ChatML without tools: llama-cpp-python renders with Jinja's own `tojson`, which escapes
# HTML characters where transformers' does not, so a template printing tool schemas would render
# differently on the two sides for reasons that have nothing to do with hermes.
TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message.role }}{{ '\\n' }}{{ message.content or '' }}"
            "<|im_end|>{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant{{ '\\n' }}{% endif %}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base_url, tokenizer dir, gguf path, llama python): the server runs for the module."""
    python = llama_python()
    root = tmp_path_factory.mktemp("llama")
    tok_dir, model = build_model(root, python, template=TEMPLATE, ctx=CTX)  # the GGUF carries this very vocabulary
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with running([python, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                  "--port", str(port), "--n_ctx", str(CTX), "--model_alias", "tiny", "--logits_all", "true"],
                 f"{base_url}/models", root / "server.log"):
        yield base_url, tok_dir, model, python


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_rollout_from_llama_cpp_python_has_the_sampled_ids_and_logprobs(served, log_dir, tmp_path, stream):
    base_url, tok_dir, model, python = served
    result = run_hermes("-p", "Say hello.", "--base-url", base_url, "--api-key", "none", "--model", "tiny",
                        "--toolsets", "terminal", "--rollout", *([] if stream else ["--no-stream"]), timeout=120)
    assert result.returncode == 0, result.stderr
    (log,) = sorted(log_dir.glob("session_*.jsonl"))
    (call,) = [e for e in read_jsonl_text(log.read_text(encoding="utf-8")) if e["type"] == "llm_call"]
    entries = call["logprobs"]
    assert entries and all(isinstance(e["token"], str) and e["logprob"] <= 0 for e in entries)
    assert call["completion_token_ids"] is None and call["prompt_token_ids"] is None  # it sends none

    exported = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir))
    assert exported.returncode == 0, exported.stderr
    (record,) = read_jsonl_text(exported.stdout)
    assert record["token_source"] == "local_render"
    trained = [i for i, m in enumerate(record["loss_mask"]) if m]
    assert len(trained) == len(entries) and trained == list(range(trained[0], len(record["tokens"])))

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    sampled = [record["tokens"][i] for i in trained]
    assert [tok.decode([i]) for i in sampled] == [e["token"] for e in entries]
    assert [record["logprobs"][i] for i in trained] == [e["logprob"] for e in entries]
    assert tok.decode(record["tokens"][: trained[0]]).endswith("<|im_start|>assistant\n")

    # llama.cpp re-scores the exported sequence: the same logprobs at the sampled positions mean the
    # prompt ids are the ones the server evaluated and the completion ids the ones it sampled (the
    # server evaluated token by token, the re-score in one batch: float sums differ slightly). The
    # same sequence shifted by one prompt token scores visibly differently: the check would notice.
    def diffs(tokens: list[int], positions: list[int]) -> list[float]:
        pairs = zip(rescore(python, model, CTX, tokens, positions), (e["logprob"] for e in entries), strict=True)
        return sorted(abs(a - b) for a, b in pairs)

    same = diffs(record["tokens"], trained)
    shifted = diffs(record["tokens"][1:], [i - 1 for i in trained])
    median = same[len(same) // 2]
    assert median < 1e-3 and same[-1] < 0.05, (median, same[-1])
    assert shifted[-1] > 0.2, shifted[-1]
    print(f"\nllama-cpp-python ({'stream' if stream else 'no-stream'}): prompt {trained[0]} tokens, "
          f"{len(entries)} sampled, finish {call.get('finish_reason')}, |logprob - re-scored| median "
          f"{median:.1e} max {same[-1]:.1e} (one prompt token shifted: max {shifted[-1]:.2f})")
