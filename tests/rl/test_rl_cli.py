"""`hermes rl atropos ENV MODE ...` driven through the real ./hermes launcher: the bundled example envs
and a researcher's own HermesEnv file run atroposlib's CLI against the SGLang stand-in; bad
environments get one line and exit 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from standin import SIX_TIMES_SEVEN_ENV, StandIn, tool_then_answer

from tests.conftest import run_hermes

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
MY_ENV = SIX_TIMES_SEVEN_ENV


CONFIGURED = '''

from pydantic import Field
from rl.atropos import HermesEnvConfig


class ConfiguredConfig(HermesEnvConfig):
    difficulty: int = Field(default=1, description="how hard the tasks are")


class Configured(SixTimesSeven):
    env_config_cls = ConfiguredConfig
'''


def server_flags(standin: StandIn, tokenizer_dir: Path) -> list[str]:
    return ["--env.tokenizer_name", str(tokenizer_dir), "--env.use_wandb", "false",
            "--openai.base_url", standin.url + "/v1", "--openai.server_type", "sglang",
            "--openai.model_name", "policy", "--openai.api_key", "x", "--openai.health_check", "false",
            "--openai.tokenizer_name", str(tokenizer_dir)]


def read_groups(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def standin(chat_tokenizer):
    server = StandIn(chat_tokenizer, tool_then_answer).start()
    yield server
    server.close()


@pytest.mark.timeout(300)
def test_bundled_terminal_env_in_process_mode_writes_groups(standin, tokenizer_dir, tmp_path):
    from atroposlib.api.server import ScoredData

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"prompt": "What is 6*7? Use the terminal.", "check": "grep -qx 42 answer.txt"})
                     + "\n", encoding="utf-8")
    out = tmp_path / "groups.jsonl"
    result = run_hermes("rl", "atropos", "terminal", "process", "--env.dataset", str(tasks),
                        "--env.group_size", "2", "--env.total_steps", "1", "--env.max_token_length", "4096",
                        "--env.data_path_to_save_groups", str(out), *server_flags(standin, tokenizer_dir),
                        cwd=tmp_path, env={"WANDB_MODE": "disabled"}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (group,) = read_groups(out)
    ScoredData(**group)
    assert group["scores"] == [1.0, 1.0]
    sampled = {i for r in standin.requests for i in r["output_ids"]}
    for tokens, masks, lps in zip(group["tokens"], group["masks"], group["inference_logprobs"], strict=True):
        assert len(tokens) == len(masks) == len(lps)
        assert [m for m in masks if m != -100] and all(m in sampled for m in masks if m != -100)


@pytest.mark.timeout(300)
def test_own_env_file_in_process_mode(standin, tokenizer_dir, tmp_path):
    """The file's only HermesEnv subclass is found without naming it. HermesEnv's defaults: server type
    sglang, a placeholder API key, the env's tokenizer for the server (no --openai.* but the URL)."""
    (tmp_path / "my_env.py").write_text(MY_ENV, encoding="utf-8")
    out = tmp_path / "groups.jsonl"
    result = run_hermes("rl", "atropos", "my_env.py", "process", "--env.group_size", "2", "--env.total_steps", "1",
                        "--env.max_token_length", "4096", "--env.data_path_to_save_groups", str(out),
                        "--env.tokenizer_name", str(tokenizer_dir), "--env.use_wandb", "false",
                        "--openai.base_url", standin.url + "/v1", "--openai.health_check", "false",
                        cwd=tmp_path, env={"WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (group,) = read_groups(out)
    assert group["scores"] == [1.0, 1.0] and len(group["tokens"]) == 2


@pytest.mark.timeout(200)
def test_a_named_class_gets_atroposlib_flags_of_its_own_config(tmp_path):
    """`FILE:Class`: the class's own config fields become --env.* flags (atroposlib's help lists them)."""
    (tmp_path / "my_env.py").write_text(MY_ENV + CONFIGURED, encoding="utf-8")
    result = run_hermes("rl", "atropos", "my_env.py:Configured", "process", "--help", cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--env.difficulty" in result.stdout and "usage: hermes rl atropos my_env.py:Configured process" in result.stdout


@pytest.mark.timeout(300)
def test_bundled_qa_env_in_evaluate_mode(standin, tokenizer_dir, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "What is 6*7? Use the terminal.", "answer": "42"}) + "\n"
                  + json.dumps({"question": "Write seven", "answer": "42"}) + "\n", encoding="utf-8")
    result = run_hermes("rl", "atropos", "qa", "evaluate", "--env.dataset", str(qa),
                        "--env.data_dir_to_save_evals", str(tmp_path / "evals"), *server_flags(standin, tokenizer_dir),
                        cwd=tmp_path, env={"WANDB_MODE": "disabled"}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "evals" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["results"]["all"] == {"eval/mean_reward": 0.5, "eval/success_rate": 1.0}


@pytest.mark.timeout(300)
def test_module_spec_is_imported_from_the_current_directory(standin, tokenizer_dir, tmp_path):
    package = tmp_path / "my_envs"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "six.py").write_text(MY_ENV, encoding="utf-8")
    out = tmp_path / "groups.jsonl"
    result = run_hermes("rl", "atropos", "my_envs.six:SixTimesSeven", "process", "--env.group_size", "2",
                        "--env.total_steps", "1", "--env.max_token_length", "4096",
                        "--env.data_path_to_save_groups", str(out), *server_flags(standin, tokenizer_dir),
                        cwd=tmp_path, env={"WANDB_MODE": "disabled"}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_groups(out)) == 1
