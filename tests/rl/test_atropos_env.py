"""rl.atropos.HermesEnv run by atroposlib's own CLI in `process` mode: hermes' agent (terminal tool)
through the proxy over atroposlib's ServerManager (sglang type) to the SGLang stand-in; the groups it
writes pass atroposlib's ScoredData and carry the sampled ids and their logprobs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from standin import StandIn, tool_then_answer

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = '''
from rl.atropos import HermesEnv


class SixTimesSeven(HermesEnv):
    name = "six_times_seven"

    async def get_item(self):
        return {"prompt": "What is 6*7? Use the terminal."}

    async def score(self, item, ctx):
        out = await ctx.aexec("cat answer.txt")
        return 1.0 if out.output.strip() == "42" else 0.0


if __name__ == "__main__":
    SixTimesSeven.cli()
'''


def test_process_mode_writes_groups_with_exact_tokens(tokenizer_dir, chat_tokenizer, tmp_path):
    from atroposlib.api.server import ScoredData

    (tmp_path / "env.py").write_text(ENV, encoding="utf-8")
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    out = tmp_path / "groups.jsonl"
    try:
        proc = subprocess.run(
            [sys.executable, str(tmp_path / "env.py"), "process", "--env.tokenizer_name", str(tokenizer_dir),
             "--env.group_size", "2", "--env.total_steps", "1", "--env.use_wandb", "false",
             "--env.max_token_length", "4096", "--env.data_path_to_save_groups", str(out),
             "--openai.base_url", standin.url + "/v1", "--openai.server_type", "sglang",
             "--openai.model_name", "policy", "--openai.api_key", "x", "--openai.health_check", "false",
             "--openai.tokenizer_name", str(tokenizer_dir)],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"})
    finally:
        standin.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    groups = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(groups) == 1
    group = groups[0]
    ScoredData(**group)
    assert group["scores"] == [1.0, 1.0] and len(group["tokens"]) == 2
    sampled = [i for r in standin.requests for i in r["output_ids"]]
    for tokens, masks, lps in zip(group["tokens"], group["masks"], group["inference_logprobs"], strict=True):
        trained = [m for m in masks if m != -100]
        assert trained and all(t in sampled for t in trained)
        assert all(lp != 1.0 for lp, m in zip(lps, masks, strict=True) if m != -100)  # real logprobs
        assert len(tokens) == len(masks) == len(lps)
