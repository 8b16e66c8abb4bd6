"""A real `hermes -p` run on the docker and ssh backends leaves nothing behind: not at a normal exit,
not after SIGTERM or SIGHUP (terminal closed), not after Ctrl-C (SIGINT) in the middle of a command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES
from tests.tools.proc_util import wait_for


def _pgrep(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


@pytest.fixture(params=["docker", "ssh"])
def backend(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(name, host dir, that dir as commands see it, leftovers(pid) -> bool, a long command)."""
    work = tmp_path / "work"
    work.mkdir()
    if request.param == "docker":
        dockerd = request.getfixturevalue("docker_env")
        monkeypatch.setenv("TERMINAL_CWD", str(work))
        monkeypatch.setenv("TERMINAL_DOCKER_MOUNT_CWD", "1")

        def leftovers(pid: int) -> bool:
            return bool(dockerd.docker("ps", "-aq", "--filter", f"label=hermes.pid={pid}").stdout.strip())

        return "docker", work, "/workspace", leftovers, "sleep 120"  # busybox: no `exec -a`
    request.getfixturevalue("ssh_env")

    def ssh_leftovers(pid: int) -> bool:
        return _pgrep(f"hermes-lifecycle-{os.getpid()}") or _pgrep(f"ssh -M -N -S [^ ]*/hermes-ssh-{pid}-")

    return "ssh", work, str(work), ssh_leftovers, f"exec -a hermes-lifecycle-{os.getpid()} sleep 120"


def _start(scripted_llm, calls: list[ToolCall]) -> subprocess.Popen:
    llm = scripted_llm([Reply(tool_calls=calls), Reply(content="done")])
    return subprocess.Popen(
        [sys.executable, str(HERMES), "-p", "go", "--base-url", llm.base_url, "--model", "m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_signal_mid_command_cleans_up(backend, scripted_llm, sig, code) -> None:
    name, host_dir, cmd_dir, leftovers, sleeper = backend
    proc = _start(scripted_llm, [ToolCall("terminal", {"command": f"echo up > {cmd_dir}/started; {sleeper}"})])
    assert wait_for(lambda: (host_dir / "started").exists(), timeout=30), proc.stderr.read1().decode() if proc.poll() else ""
    assert leftovers(proc.pid)
    time.sleep(0.3)  # the command is running, not just starting
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == code, proc.stderr.read().decode()[-3000:]
    assert wait_for(lambda: not leftovers(proc.pid), timeout=30), f"{name}: something outlived hermes"
    assert "Traceback" not in proc.stderr.read().decode()


def test_normal_exit_cleans_up(backend, scripted_llm) -> None:
    name, host_dir, cmd_dir, leftovers, sleeper = backend
    proc = _start(scripted_llm, [ToolCall("terminal", {
        "command": f"({sleeper}) >/dev/null 2>&1 & echo up > {cmd_dir}/started"})])
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    assert (host_dir / "started").exists()
    assert wait_for(lambda: not leftovers(proc.pid), timeout=30), f"{name}: something outlived hermes"
