"""`hermes rl` help and its errors: a bad environment gets one line and exit 2 (what can be told
without atroposlib is told before importing it), a python without atroposlib gets the install line.
The many bad-environment and bad-input cases run cli.main in this process (atroposlib's ~3 CPU-s
import once, not per case); each of those paths also runs once through the real ./hermes launcher.
(The runs themselves: test_rl_cli.py.)"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from standin import SIX_TIMES_SEVEN_ENV

from tests.conftest import CLIResult, run_hermes

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
MY_ENV = SIX_TIMES_SEVEN_ENV

BLOCK_ATROPOSLIB = (
    "import importlib.abc, sys\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'atroposlib' or name.startswith('atroposlib.'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Block())\n")


def hermes_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, cwd: Path, *argv: str,
                env: dict[str, str] | None = None) -> CLIResult:
    """`hermes ARGV` through cli.main in this process, from `cwd`: the launcher's dispatch and its
    one-line error reporting, with atroposlib imported once per worker rather than ~3 CPU-s per case.
    (Each path also runs through the real ./hermes below: test_*_through_the_launcher.)"""
    import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["hermes", *argv])  # atroposlib's parser reads it; restored after
    monkeypatch.setattr(sys, "path", list(sys.path))  # an env file's directory is put first on it
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    before = set(sys.modules)
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    finally:  # the env files imported from cwd (each case writes its own my_env.py)
        for name in set(sys.modules) - before:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if where.startswith(str(cwd)):
                del sys.modules[name]
    out, err = capsys.readouterr()
    return CLIResult(code, out, err)


def process_flags(tokenizer_dir: Path) -> list[str]:
    return ["--env.tokenizer_name", str(tokenizer_dir), "--env.use_wandb", "false", "--env.total_steps", "1",
            "--openai.base_url", "http://127.0.0.1:9/v1", "--openai.server_type", "sglang",
            "--openai.tokenizer_name", str(tokenizer_dir), "--openai.health_check", "false"]


def without_atroposlib(tmp_path: Path) -> dict[str, str]:
    """The environment of a python that cannot import atroposlib (a blocked import on sys.path)."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_ATROPOSLIB, encoding="utf-8")
    return {"PYTHONPATH": str(blocker)}


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
def test_a_bad_environment_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, spec, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = hermes_here(monkeypatch, capsys, tmp_path, "rl", "atropos", spec, "process", "--env.total_steps", "1")
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
@pytest.mark.filterwarnings("ignore:You are using a local Base URL")  # atroposlib's, on stderr when run by ./hermes
def test_bad_process_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, tokenizer_dir, flags, files, expected):
    """Bad --env.dataset files, a tokenizer that cannot load, a bad flag value (before: a traceback, exit 1)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = hermes_here(monkeypatch, capsys, tmp_path, "rl", "atropos", "terminal", "process",
                         *process_flags(tokenizer_dir), *flags, env={"WANDB_MODE": "disabled"})
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hermes rl: error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-3000:]


@pytest.mark.timeout(200)
def test_a_bad_environment_through_the_launcher(tmp_path):
    """The real ./hermes: atroposlib imported, the user's file run, its error one line and exit 2."""
    (tmp_path / "broken.py").write_text("import os\n\nvalue = undefined_name\n", encoding="utf-8")
    result = run_hermes("rl", "atropos", "broken.py", "process", "--env.total_steps", "1", cwd=tmp_path, timeout=180)
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("hermes rl: error: importing " + str(tmp_path.resolve() / "broken.py")
                             + " failed: NameError: name 'undefined_name' is not defined (broken.py line 3)\n")


@pytest.mark.timeout(200)
def test_bad_process_input_through_the_launcher(tmp_path, tokenizer_dir):
    """The real ./hermes: atroposlib's own CLI parses the flags; a bad value is one line and exit 2."""
    result = run_hermes("rl", "atropos", "terminal", "process", *process_flags(tokenizer_dir),
                        "--env.dataset", "nope.jsonl", cwd=tmp_path, env={"WANDB_MODE": "disabled"}, timeout=180)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("hermes rl: error: ")]
    assert errors == ["hermes rl: error: --env.dataset nope.jsonl: cannot read it: No such file or directory"], (
        result.stderr[-3000:])


def test_without_atroposlib_the_error_names_the_extra(tmp_path):
    """A python that cannot import atroposlib gets the install line."""
    env = without_atroposlib(tmp_path)
    result = run_hermes("rl", "atropos", "terminal", "process", env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "hermes rl: error: atroposlib is not installed: pip install 'hermes-agent[atropos]'"
    check = run_hermes("rl", "check", "groups.jsonl", env=env, timeout=120)
    assert check.returncode == 2
    assert check.stderr.strip() == ("hermes rl: error: checking groups needs atroposlib (its ScoredData model): "
                                    "pip install 'hermes-agent[atropos]'")


@pytest.mark.parametrize(("spec", "files", "expected"), [
    ("nope", {}, "unknown environment 'nope': use terminal, qa,"),
    ("missing.py", {}, "no environment file missing.py"),
    ("syntax.py:Env", {"syntax.py": "x = (\n"}, "failed: SyntaxError: '(' was never closed (syntax.py line 1)"),
    ("no_such_pkg.mod:Env", {}, "no module no_such_pkg.mod"),
])
def test_a_mistyped_environment_is_told_before_atroposlib_loads(tmp_path, spec, files, expected):
    """These need no atroposlib to be found wrong, so a python without it still gets them (not the
    install line): they are checked before its ~5 s import."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_hermes("rl", "atropos", spec, "process", cwd=tmp_path, env=without_atroposlib(tmp_path), timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hermes rl: error: ") and expected in lines[0], result.stderr


def test_the_bundled_names_known_before_import_are_rl_envs_own():
    from hermes_cli.rl_cli import BUNDLED
    from rl.envs import ENVS

    assert tuple(ENVS) == BUNDLED


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
