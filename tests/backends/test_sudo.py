"""SUDO_PASSWORD reaches `sudo -S` on every backend, and never an argv, the output or the session log.

A stand-in `sudo` (first on PATH, set by the first command, so it works the same in every backend)
records its argv and the password line it reads on stdin; a stand-in `id` reports a non-root user,
because the tests run as root and root's sudo is left alone (it never asks for a password).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tools.environments import manager

PASSWORD = "s3cr3t-pw-do-not-log"

FAKE_SUDO = """#!/bin/bash
printf '%s\\n' "$*" >>"$(dirname "$0")/argv.log"
[ "$1 $2 $3 $4" = "-k -S -p " ] || { echo "unexpected flags: $*"; exit 2; }
shift 4
IFS= read -r line
printf '%s\\n' "$line" >"$(dirname "$0")/stdin.log"
echo "sudo ran: $*"
"$@"
"""


def _standins(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sudo").write_text(FAKE_SUDO, encoding="utf-8")
    (directory / "id").write_text("#!/bin/sh\necho 1000\n", encoding="utf-8")
    for name in ("sudo", "id"):
        (directory / name).chmod(0o755)
    return directory


def _check(env, standin_dir: str, host_dir: Path) -> None:
    env.execute(f"export PATH={standin_dir}:$PATH", timeout=20)
    result = env.execute("sudo echo as-root", timeout=20)
    assert result.exit_code == 0, result.output
    assert result.output == "sudo ran: echo as-root\nas-root\n"
    assert PASSWORD not in result.output
    assert (host_dir / "stdin.log").read_text(encoding="utf-8") == PASSWORD + "\n"
    assert PASSWORD not in (host_dir / "argv.log").read_text(encoding="utf-8")
    # The password is not in the task's environment either.
    assert PASSWORD not in env.execute("env; set", timeout=20).output


@pytest.fixture
def sudo_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SUDO_PASSWORD", PASSWORD)
    return PASSWORD


def test_local(sudo_password, tmp_path: Path) -> None:
    standins = _standins(tmp_path / "bin")
    _check(manager.get_environment("t"), str(standins), standins)


def test_ssh(sudo_password, ssh_env, tmp_path: Path) -> None:
    standins = _standins(tmp_path / "bin")  # the remote host is this machine: same path there
    _check(manager.get_environment("t"), str(standins), standins)


def test_docker(sudo_password, docker_env, tmp_path: Path, monkeypatch) -> None:
    standins = _standins(tmp_path / "bin")
    monkeypatch.setenv("TERMINAL_CWD", str(tmp_path / "bin"))
    monkeypatch.setenv("TERMINAL_DOCKER_MOUNT_CWD", "1")
    _check(manager.get_environment("t"), "/workspace", standins)


def test_root_sudo_gets_no_password(sudo_password, tmp_path: Path) -> None:
    standins = _standins(tmp_path / "bin")
    (standins / "id").unlink()
    if shutil.which("id") is None:
        pytest.skip("no id command")
    if os.geteuid() != 0:
        pytest.skip("checks the root path")
    env = manager.get_environment("t")
    env.execute(f"export PATH={standins}:$PATH", timeout=20)
    result = env.execute("sudo -n true; echo rc=$?", timeout=20)
    assert "unexpected flags: -n true" in result.output and PASSWORD not in result.output
    assert not (standins / "stdin.log").exists()


def test_terminal_tool_result_never_has_the_password(sudo_password, tmp_path: Path, run_tool) -> None:
    standins = _standins(tmp_path / "bin")
    run_tool("terminal", {"command": f"export PATH={standins}:$PATH"})
    result = run_tool("terminal", {"command": "sudo echo hi"})
    assert result["output"] == "sudo ran: echo hi\nhi\n"
    assert PASSWORD not in repr(result)
