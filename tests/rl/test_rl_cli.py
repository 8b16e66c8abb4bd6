"""`hermes rl atropos ENV MODE ...` driven through the real ./hermes launcher: the bundled example envs
and a researcher's own HermesEnv file run atroposlib's CLI against the SGLang stand-in; bad
environments get one line and exit 2."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize(("spec", "files", "expected"), [
    ("nope", {}, "unknown environment 'nope': use terminal, qa, a file path/to/env.py[:Class] or package.module:Class"),
    ("missing.py", {}, "no environment file missing.py"),
    ("plain.py", {"plain.py": "x = 1\n"}, "plain.py defines no subclass of rl.atropos.HermesEnv"),
    ("my_env.py:Other", {"my_env.py": MY_ENV}, "my_env.py has no class Other (it defines SixTimesSeven)"),
    ("two.py", {"two.py": MY_ENV + "\n\nclass Again(SixTimesSeven):\n    pass\n"},
     "two.py defines several HermesEnv subclasses (SixTimesSeven, Again): name one, e.g. two.py:SixTimesSeven"),
    ("my_env.py:HermesEnv", {"my_env.py": MY_ENV}, "my_env.py:HermesEnv is the base class itself: name your subclass of it"),
    ("notenv.py:Thing", {"notenv.py": "class Thing:\n    pass\n"}, "notenv.py:Thing is not a subclass of rl.atropos.HermesEnv"),
    ("broken.py", {"broken.py": "import os\n\nvalue = undefined_name\n"},
     "failed: NameError: name 'undefined_name' is not defined (broken.py line 3)"),
    ("syntax.py", {"syntax.py": "x = (\n"}, "failed: SyntaxError: '(' was never closed (syntax.py line 1)"),
    ("no_such_pkg.mod:Env", {}, "no module no_such_pkg.mod"),
])
@pytest.mark.timeout(200)
def test_a_bad_environment_is_one_line_and_exit_2(tmp_path, spec, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_hermes("rl", "atropos", spec, "process", "--env.total_steps", "1", cwd=tmp_path, timeout=180)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hermes rl: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize(("flags", "files", "expected"), [
    (["--env.dataset", "nope.jsonl"], {}, "--env.dataset nope.jsonl: cannot read it: No such file or directory"),
    (["--env.dataset", "tasks.jsonl"], {"tasks.jsonl": '{"prompt": "x", "check": "true"}\nnot json\n'},
     "tasks.jsonl:2: not JSON (Expecting value at column 1); expected one task object per line"),
    (["--env.dataset", "tasks.jsonl"], {"tasks.jsonl": '{"prompt": "x"}\n'},
     "tasks.jsonl:1: missing check (each line needs prompt, check)"),
    (["--env.dataset", "tasks.jsonl"], {"tasks.jsonl": "\n"}, "tasks.jsonl: no tasks (expected JSONL"),
    ([], {}, "no dataset: pass --env.dataset FILE"),
    (["--env.dataset", "tasks.jsonl", "--env.tokenizer_name", "no-such-tokenizer"],
     {"tasks.jsonl": '{"prompt": "x", "check": "true"}\n'}, "cannot load the tokenizer ("),
    (["--env.group_size", "abc"], {},
     "--env.group_size 'abc': Input should be a valid integer, unable to parse string as an integer "
     "(see hermes rl atropos terminal process --help)"),
])
@pytest.mark.timeout(200)
def test_bad_process_input_is_one_line_and_exit_2(tmp_path, tokenizer_dir, flags, files, expected):
    """Bad --env.dataset files, a tokenizer that cannot load, a bad flag value (before: a traceback, exit 1)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    server = ["--env.tokenizer_name", str(tokenizer_dir), "--env.use_wandb", "false", "--env.total_steps", "1",
              "--openai.base_url", "http://127.0.0.1:9/v1", "--openai.server_type", "sglang",
              "--openai.tokenizer_name", str(tokenizer_dir), "--openai.health_check", "false"]
    result = run_hermes("rl", "atropos", "terminal", "process", *server, *flags, cwd=tmp_path,
                        env={"WANDB_MODE": "disabled"}, timeout=180)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hermes rl: error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-3000:]


def test_without_atroposlib_the_error_names_the_extra(tmp_path):
    """A python that cannot import atroposlib (a blocked import on sys.path) gets the install line."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'atroposlib' or name.startswith('atroposlib.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n", encoding="utf-8")
    result = run_hermes("rl", "atropos", "terminal", "process", env={"PYTHONPATH": str(blocker)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "hermes rl: error: atroposlib is not installed: pip install 'hermes-agent[atropos]'"
    check = run_hermes("rl", "check", "groups.jsonl", env={"PYTHONPATH": str(blocker)}, timeout=120)
    assert check.returncode == 2
    assert check.stderr.strip() == ("hermes rl: error: checking groups needs atroposlib (its ScoredData model): "
                                    "pip install 'hermes-agent[atropos]'")


@pytest.mark.timeout(400)
def test_help_texts():
    top = run_hermes("rl", "--help")
    assert top.returncode == 0 and "hermes rl atropos ENV process|serve|evaluate" in top.stdout
    assert "hermes rl check GROUPS.jsonl" in top.stdout
    atropos = run_hermes("rl", "atropos", "--help")
    assert atropos.returncode == 0 and "path/to/my_env.py[:Cls]" in atropos.stdout
    passed = run_hermes("rl", "atropos", "terminal", "process", "--help", timeout=180)  # atroposlib's own help
    assert passed.returncode == 0 and "--env.dataset" in passed.stdout and "--openai.base_url" in passed.stdout
    assert "usage: hermes rl atropos terminal process" in passed.stdout
    bare = run_hermes("rl")
    assert bare.returncode == 2 and "usage: hermes rl" in bare.stderr
    unknown = run_hermes("rl", "train")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "hermes rl: error: unknown command 'hermes rl train': use atropos, check or proxy (see hermes rl --help)"


@pytest.mark.timeout(200)
def test_python_dash_m_rl_envs_still_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rl.envs"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert proc.returncode == 2 and "usage: python -m rl.envs" in proc.stderr
