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
from standin import SIX_TIMES_SEVEN_ENV, StandIn, tool_then_answer

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = SIX_TIMES_SEVEN_ENV + '''

if __name__ == "__main__":
    SixTimesSeven.cli()
'''


def test_process_mode_writes_groups_with_exact_tokens(tokenizer_dir, chat_tokenizer, tmp_path):
    """The shipped `terminal` example env: the check command's exit status is the reward."""
    from atroposlib.api.server import ScoredData

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"prompt": "What is 6*7? Use the terminal.", "check": "grep -qx 42 answer.txt"})
                     + "\n", encoding="utf-8")
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    out = tmp_path / "groups.jsonl"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rl.envs", "terminal", "process", "--env.dataset", str(tasks),
             "--env.tokenizer_name", str(tokenizer_dir),
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_mode_feeds_a_trainer_through_run_api(tokenizer_dir, chat_tokenizer, tmp_path):
    """`serve`: the env registers with atroposlib's Trajectory API (run-api, on loopback) and a stand-in
    trainer (a few lines of HTTP) pulls a batch holding the sampled ids."""
    import time

    import httpx

    (tmp_path / "env.py").write_text(ENV, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    api = subprocess.Popen([sys.executable, "-c", "from atroposlib.cli.run_api import main; main()",
                            "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    server = None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # run-api up?
            try:
                httpx.get(url + "/status", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "run-api did not start"
                time.sleep(0.1)
        assert httpx.post(url + "/register", json={
            "wandb_group": "g", "wandb_project": "p", "batch_size": 2, "max_token_len": 4096,
            "checkpoint_dir": str(tmp_path), "save_checkpoint_interval": 0, "starting_step": 0,
            "num_steps": 1}).status_code == 200
        server = subprocess.Popen(
            [sys.executable, str(tmp_path / "env.py"), "serve", "--env.tokenizer_name", str(tokenizer_dir),
             "--env.group_size", "2", "--env.batch_size", "2", "--env.use_wandb", "false",
             "--env.wandb_name", "hermes", "--env.rollout_server_url", url, "--env.max_token_length", "4096",
             "--env.ensure_scores_are_not_same", "false",
             "--openai.base_url", standin.url + "/v1", "--openai.server_type", "sglang",
             "--openai.model_name", "policy", "--openai.api_key", "x", "--openai.health_check", "false",
             "--openai.tokenizer_name", str(tokenizer_dir)],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        batch = None
        deadline = time.monotonic() + 90
        while batch is None:
            assert server.poll() is None, server.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "no batch from the env"
            batch = httpx.get(url + "/batch", timeout=5).json()["batch"]
            time.sleep(0.2)
    finally:
        for proc in (server, api):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        standin.close()
    sampled = set(i for r in standin.requests for i in r["output_ids"])
    rows = [(tokens, masks) for group in batch for tokens, masks in zip(group["tokens"], group["masks"], strict=True)]
    assert len(rows) == 2
    for tokens, masks in rows:
        assert len(tokens) == len(masks) and all(m in sampled for m in masks if m != -100)
    assert all(group.get("inference_logprobs") for group in batch)


def test_evaluate_mode_writes_metrics_and_samples(tokenizer_dir, chat_tokenizer, tmp_path):
    """The shipped `qa` example env in evaluate mode: the answer found in the final response is the reward."""
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "What is 6*7? Use the terminal.", "answer": "42"}) + "\n"
                  + json.dumps({"question": "Write seven", "answer": "42"}) + "\n", encoding="utf-8")
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rl.envs", "qa", "evaluate", "--env.dataset", str(qa),
             "--env.tokenizer_name", str(tokenizer_dir),
             "--env.use_wandb", "false", "--env.data_dir_to_save_evals", str(tmp_path / "evals"),
             "--openai.base_url", standin.url + "/v1", "--openai.server_type", "sglang",
             "--openai.model_name", "policy", "--openai.api_key", "x", "--openai.health_check", "false",
             "--openai.tokenizer_name", str(tokenizer_dir)],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"})
    finally:
        standin.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "evals" / "metrics.json").read_text(encoding="utf-8"))
    # "The answer is 42." scores, "The answer is seven." does not; both end with an answer
    assert metrics["results"]["all"] == {"eval/mean_reward": 0.5, "eval/success_rate": 1.0}
    samples = [json.loads(line) for line in (tmp_path / "evals" / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(s["reward"] for s in samples) == [0.0, 1.0]
