"""Hermetic tests: a private HERMES_HOME and log dir, no credentials, fast retries, real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest keeps its assertion-rewritten test modules only where bytecode may be written; this machine
# sets PYTHONDONTWRITEBYTECODE, so each xdist worker parsed and rewrote every test module on every run
# (collection ~9 CPU-s per worker, ~3.5 with the cache). As the ./hermes launcher does for our modules.
sys.dont_write_bytecode = False

ROOT = Path(__file__).resolve().parent.parent
HERMES = ROOT / "hermes"

_CREDENTIAL_MARKERS = ("API_KEY", "TOKEN", "SECRET", "PASSWORD", "BASE_URL")


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("hermes_home")
    for name in list(os.environ):
        if any(marker in name for marker in _CREDENTIAL_MARKERS) or name.startswith(("TERMINAL_", "HERMES_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LLM_MODEL", raising=False)
    # A terminal's size comes from the terminal: pytest-xdist's workers export COLUMNS=80 and LINES=24,
    # which rich prefers to the pty's real size, so pty tests would wrap at 80 columns.
    for name in ("COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HERMES_HOME", str(home))
    monkeypatch.setenv("HERMES_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("HERMES_RETRY_BASE_DELAY", "0.01")
    return home


@pytest.fixture(autouse=True)
def unconfigured_terminal() -> Iterator[None]:
    """An AIAgent configures the process's tool settings; the next test starts from none."""
    yield
    from tools import tool_settings

    tool_settings.configure(None)


@pytest.fixture
def log_dir(hermetic_env: Path) -> Path:
    return hermetic_env / "logs"


@dataclass
class CLIResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_hermes(*args: str, input: str | None = None, env: dict[str, str] | None = None,
               cwd: Path | None = None, timeout: float = 60) -> CLIResult:
    """Run ./hermes as a user would, in a subprocess, with the test's environment."""
    proc = subprocess.run(
        [sys.executable, str(HERMES), *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def hermes_cli():
    return run_hermes


@pytest.fixture
def scripted_llm() -> Iterator:
    """Factory: scripted_llm([Reply(...), ...]) starts a ScriptedLLM that is closed after the test."""
    from scripted_server import ScriptedLLM

    servers = []

    def start(replies=None, **kwargs):
        server = ScriptedLLM(replies, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
