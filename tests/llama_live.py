"""Shared by the `live` llama.cpp tests (tests/exports/test_live_llama_cpp.py, tests/rl/test_live_llama_rl.py):
find an interpreter with llama-cpp-python, build the tiny random-weight GGUF from a tokenizer
trained here, start a server on loopback, re-score token sequences with llama.cpp itself.

The work inside llama-cpp-python's interpreter is tests/llama_gguf.py (run as a script: that
interpreter need not have hermes' dependencies).

Needs an interpreter with `llama-cpp-python[server]`, `gguf`, `tokenizers` and `numpy`: this one
(`pip install -e '.[llama]'`, which builds llama.cpp from source, ~7 min on 2 cores) or the one
$HERMES_LLAMA_PYTHON names. Skipped with the reason otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.exports.toolkit import build_tokenizer

BUILDER = Path(__file__).with_name("llama_gguf.py")
NEEDED = "import llama_cpp, llama_cpp.server.app, gguf, tokenizers, numpy"
LLAMA_PYTHON = os.environ.get("HERMES_LLAMA_PYTHON")  # read at import: test fixtures clear HERMES_*


def llama_python() -> str:
    candidates = [LLAMA_PYTHON] if LLAMA_PYTHON else []
    if importlib.util.find_spec("llama_cpp") is not None:
        candidates.append(sys.executable)
    for python in candidates:
        probe = subprocess.run([python, "-c", NEEDED], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return python
        why = (probe.stderr.strip().splitlines() or ["failed"])[-1]
        pytest.skip(f"{python} cannot run llama-cpp-python's server ({why}): pip install "
                    "'llama-cpp-python[server]' gguf tokenizers numpy")
    pytest.skip("llama-cpp-python is not installed: pip install -e '.[llama]' (builds llama.cpp, ~7 min), "
                "or set HERMES_LLAMA_PYTHON to a python with llama-cpp-python[server], gguf, tokenizers, numpy")


def build_model(root: Path, python: str, *, template: str, ctx: int, vocab_size: int = 900) -> tuple[Path, Path]:
    """(tokenizer dir, GGUF path): a BPE tokenizer trained here with `template`, and a random Llama
    carrying that very vocabulary (its chat template too)."""
    build_tokenizer(root / "tok", template=template, vocab_size=vocab_size)
    (root / "template.jinja").write_text(template, encoding="utf-8")
    model = root / "tiny.gguf"
    subprocess.run([python, str(BUILDER), "build", str(root / "tok" / "tokenizer.json"), str(root / "template.jinja"),
                    str(model), str(ctx)], check=True, timeout=120)
    return root / "tok", model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command: list[str], ready_url: str, log_path: Path, *, wait: float = 60) -> Iterator[None]:
    """Run a server process (own session) until the block ends; ready when `ready_url` answers 200."""
    log = log_path.open("w", encoding="utf-8")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log_path.read_text(encoding="utf-8")[-2000:]
            assert time.monotonic() < deadline, f"{command[1:3]} did not answer within {wait:.0f} s"
            time.sleep(0.1)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def rescore(python: str, model: Path, ctx: int, tokens: list[int], positions: list[int]) -> list[float]:
    """llama.cpp's logprob of tokens[i] after tokens[:i] for each i in positions, in one batch."""
    scored = subprocess.run([python, str(BUILDER), "score", str(model), str(ctx)], capture_output=True,
                            text=True, input=json.dumps({"tokens": tokens, "positions": positions}), timeout=120)
    assert scored.returncode == 0, scored.stderr[-2000:]
    return json.loads(scored.stdout)
