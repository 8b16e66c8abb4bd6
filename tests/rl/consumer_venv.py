"""A virtualenv with the real RL consumers (torch 2.13.0 CPU, verl 0.9.1, skyrl 0.3.0) and hermes'
own dependencies, built once per machine in ~/.cache/hermes-tests/venv-rl-consumers through
tests/registry_cache.py by `python -m tests.rl.consumer_venv` (.ci/run runs it before the suite) and
reused by later runs. Until it is built (or when PyPI is unreachable) the tests that need it are
skipped with the reason.

verl and skyrl go in with --no-deps, then the packages their agent-loop and generator modules import
(found by importing them): their trainer stacks (wandb, peft, tensorboard, ray's dashboard extras,
flash-attn, vllm-router) are not needed to run those classes. First creation, measured on this
2-core machine on 2026-12-02 at a load average of ~10 from other jobs, with pip's cache off: 8 min 53 s
and 2.0 GB (torch from the machine's disk: 2 min; the others from PyPI: 5 min; hermes' own: 2 min);
installing verl with its dependencies instead took 12.5 min. Through the test's fixture at a load
average of 20-38: 14 min 53 s for the first run of the test file. Later runs of
tests/rl/test_verl_skyrl.py take 1-2 minutes, most of it importing torch, ray and verl.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from tests.registry_cache import CACHE, MARKER, cached_dir, run_step

VENV = CACHE / "venv-rl-consumers"
ROOT = Path(__file__).resolve().parents[2]
PIP = ["-m", "pip", "install", "-q", "--retries", "1", "--timeout", "30"]
STEPS = [
    # the CPU build on this machine's disk (pip takes it for Python 3.11 without downloading)
    ["torch==2.13.0"],
    ["--no-deps", "verl==0.9.1", "skyrl==0.3.0", "skyrl-gym==0.4.0"],
    # what verl.experimental.agent_loop (and the DataProto, dataset and tokenizer helpers the test
    # uses) and skyrl.train.generators / skyrl.train.utils.trainer_utils import, within verl's pins;
    # cachetools, uvicorn and fastapi are imported by verl 0.9.1 without being declared
    ["torch==2.13.0", "ray", "hydra-core", "tensordict>=0.8.0,<=0.10.0,!=0.9.0", "transformers>=5.5.3,<5.11,!=5.6.0",
     "datasets", "pandas", "pyarrow>=19.0.0", "numpy>=2.0.0", "codetiming", "accelerate", "dill", "torchdata",
     "cachetools", "uvicorn", "fastapi", "pillow", "loguru", "jaxtyping"],
]


def hermes_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["rl"]]


def consumer_python() -> Path:
    """The cached venv's interpreter; skips with the reason when it has not been built. The suite
    never builds it itself: ~9 minutes on 2 cores would blow its 8-minute budget on every fresh
    machine. `python -m tests.rl.consumer_venv` builds it, and .ci/run does so before the suite."""
    if not (VENV / MARKER).is_file():
        pytest.skip(f"the verl/SkyRL consumer venv is not built ({VENV}): run `python -m tests.rl.consumer_venv` "
                    "once (~9 min, 2 GB; .ci/run does) to test against the real verl and skyrl classes")
    return VENV / "bin" / "python"


def build() -> Path:
    """Creates the cached venv if it is missing (skips, i.e. raises pytest's Skipped, when PyPI fails)."""
    if not (VENV / MARKER).is_file():
        if sys.version_info[:2] != (3, 11):
            pytest.skip("the consumer venv needs Python 3.11: the CPU torch wheel on this machine is for 3.11 "
                        "(elsewhere pip would fetch a multi-GB CUDA build)")

        def fill(staging: Path) -> None:
            run_step([sys.executable, "-m", "venv", str(staging)])
            python = str(staging / "bin" / "python")
            for packages in STEPS:
                run_step([python, *PIP, *packages], timeout=1800)
            run_step([python, *PIP, *hermes_requirements()], timeout=1800)

        cached_dir(VENV.name, "torch 2.13.0, verl 0.9.1 and skyrl 0.3.0 (a venv, pip install)", fill)
    return VENV / "bin" / "python"


if __name__ == "__main__":
    try:
        print(f"consumer venv ready: {build()}")
    except pytest.skip.Exception as exc:  # offline or no Python 3.11: the tests will skip and say why
        print(f"consumer venv not built: {exc}")
