"""A virtualenv with the real RL consumers (torch 2.13.0 CPU, verl 0.9.1, skyrl 0.3.0) and hermes'
own dependencies, created once per machine in ~/.cache/hermes-tests/venv-rl-consumers through
tests/registry_cache.py and reused by later runs. When PyPI is unreachable (or an install fails)
the tests that need it are skipped with the reason.

First creation: 13.5 minutes (813 s of fixture setup) and 2.2 GB on this 2-core machine, measured
2026-12-02 at a load average of 9-10 from other jobs; most of it is `pip install torch==2.13.0
verl==0.9.1` (torch's CPU wheel is on the machine's disk for Python 3.11; verl brings ray,
transformers, datasets, pyarrow). Later runs of tests/rl/test_verl_skyrl.py: about 2 minutes, most of
it importing torch, ray and verl in the driver.
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
    # verl as its users install it; torch pinned to the CPU build on this machine's disk
    ["torch==2.13.0", "verl==0.9.1"],
    # verl 0.9.1's agent loop module imports these without declaring them
    ["cachetools", "uvicorn", "fastapi"],
    # skyrl's generator interface without its GPU extra (flash-attn, vllm-router, nixl, ray==2.56):
    # the modules it imports, as its skyrl-train extra names them
    ["--no-deps", "skyrl==0.3.0", "skyrl-gym==0.4.0"],
    ["loguru", "jaxtyping", "torchdata"],
]


def hermes_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["rl"]]


def consumer_python() -> Path:
    """The cached venv's interpreter, creating the venv on first use (skips with the reason)."""
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
