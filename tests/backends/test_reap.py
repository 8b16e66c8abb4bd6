"""After `kill -9` of hermes, the next hermes run reaps the docker container and the local `hermes-env-*`
temp dir the dead one left: only those whose owner labels/record name a process that no longer exists
(pid AND start time), never a live owner's, never one by name alone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES
from tests.tools.proc_util import kill_quietly, wait_for
from tools.environments.reaper import OWNER_FILE, start_time


def _hermes(scripted_llm, command: str) -> subprocess.Popen:
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": command})]), Reply(content="done")])
    return subprocess.Popen(
        [sys.executable, str(HERMES), "-p", "go", "--base-url", llm.base_url, "--model", "m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )


def _kill9_mid_command(scripted_llm, command: str, started: Path) -> int:
    proc = _hermes(scripted_llm, command)
    assert wait_for(started.exists, timeout=30), proc.stderr.read1().decode() if proc.poll() is not None else ""
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL
    return proc.pid


def _run_ok(scripted_llm) -> None:
    proc = _hermes(scripted_llm, "echo hi")
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-3000:]


ME = (os.getpid(), start_time(os.getpid()), socket.gethostname())


def test_docker_reaps_dead_owners_containers_only(docker_env, scripted_llm, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("TERMINAL_CWD", str(work))
    monkeypatch.setenv("TERMINAL_DOCKER_MOUNT_CWD", "1")
    dead = _kill9_mid_command(scripted_llm, "echo up > /workspace/started; sleep 120", work / "started")

    def containers(label: str) -> list[str]:
        return docker_env.docker("ps", "-aq", "--filter", f"label={label}").stdout.split()

    assert containers(f"hermes.pid={dead}"), "kill -9 ran no cleanup: its container must still be there"
    pid, start, host = ME
    live = docker_env.docker("run", "-d", "--label", f"hermes.owner_pid={pid}", "--label",
                             f"hermes.owner_start={start}", "--label", f"hermes.owner_host={host}",
                             "--label", "test=live", docker_env.image, "sleep", "120").stdout.strip()
    reused = docker_env.docker("run", "-d", "--label", f"hermes.owner_pid={pid}", "--label",
                               "hermes.owner_start=1", "--label", f"hermes.owner_host={host}",
                               docker_env.image, "sleep", "120").stdout.strip()  # our pid, other start: dead
    named = docker_env.docker("run", "-d", "--name", f"hermes-env-x{pid}", docker_env.image,
                              "sleep", "120").stdout.strip()
    try:
        _run_ok(scripted_llm)
        assert not containers(f"hermes.pid={dead}"), "the dead hermes's container was not reaped"
        left = docker_env.docker("ps", "-aq", "--no-trunc").stdout.split()
        assert live in left and named in left, "a live owner's or an unlabelled container was removed"
        assert reused not in left, "a container of a reused pid (other start time) was kept"
    finally:
        docker_env.docker("rm", "-f", live, reused, named, check=False)


def test_local_reaps_dead_owners_temp_dirs_only(scripted_llm, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("TERMINAL_ENV", "local")
    start = Path(os.environ["TERMINAL_CWD"])
    tag = f"hermes-reap-{os.getpid()}"
    try:
        dead = _kill9_mid_command(scripted_llm, f"echo up > started; exec -a {tag} sleep 120", start / "started")
    finally:
        found = subprocess.run(["pgrep", "-f", f"^{tag}"], capture_output=True, text=True).stdout.split()
        kill_quietly(found)  # the orphaned command: kill -9 of hermes left it running
    left_behind = [p for p in tmp.glob("hermes-env-*") if (p / OWNER_FILE).exists()]
    assert len(left_behind) == 1 and json.loads((left_behind[0] / OWNER_FILE).read_text())["pid"] == dead

    pid, start_ticks, host = ME
    live, reused, unrecorded = tmp / "hermes-env-live", tmp / "hermes-env-reused", tmp / "hermes-env-x"
    for path, ticks in ((live, start_ticks), (reused, "1")):
        path.mkdir()
        (path / OWNER_FILE).write_text(json.dumps({"pid": pid, "start": ticks, "host": host}))
    unrecorded.mkdir()
    _run_ok(scripted_llm)
    assert not left_behind[0].exists(), "the dead hermes's temp dir was not reaped"
    assert not reused.exists(), "a temp dir of a reused pid (other start time) was kept"
    assert live.exists() and unrecorded.exists(), "a live owner's or an unrecorded temp dir was removed"
    assert sorted(p.name for p in tmp.glob("hermes-env-*")) == ["hermes-env-live", "hermes-env-x"]
