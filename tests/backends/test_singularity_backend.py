"""Singularity/Apptainer backend: exact command lines and lifecycle against a stand-in `apptainer`.

Apptainer cannot be installed on the development machine, so a stand-in executable on PATH records
every command line and runs exec'd commands locally; a live test runs where the real binary exists.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from backend_daemons import eventually

from tools.environments import manager
from tools.environments.manager import BackendUnavailable

HERE = Path(__file__).parent


@pytest.fixture
def fake_apptainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "apptainer"
    shim.write_text(f"#!{sys.executable}\n" + (HERE / "fake_apptainer.py").read_text())
    shim.chmod(0o755)
    log = tmp_path / "apptainer.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_APPTAINER_LOG", str(log))
    monkeypatch.setenv("TERMINAL_ENV", "singularity")
    monkeypatch.setenv("TERMINAL_SINGULARITY_CACHE", str(tmp_path / "cache"))

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


def test_lifecycle_command_lines(fake_apptainer, tmp_path: Path) -> None:
    env = manager.get_environment("task-1")
    assert env.backend == "singularity"
    sif = env.image
    assert sif.startswith(str(tmp_path / "cache")) and sif.endswith(".sif")
    assert fake_apptainer()[0] == ["build", fake_apptainer()[0][1], "docker://debian:bookworm-slim"]
    assert fake_apptainer()[0][1].startswith(sif + ".")  # built under a temp name, then renamed
    assert fake_apptainer()[1] == ["instance", "start", "--containall", "--writable-tmpfs", sif, env.instance]
    assert env.instance.startswith(f"hermes_{os.getpid()}_task_1_")
    env.execute("echo hi", timeout=10)
    assert fake_apptainer()[-1] == ["exec", f"instance://{env.instance}", "bash", "-c", 'eval "$(cat)"']
    manager.cleanup_environment("task-1")
    assert fake_apptainer()[-1] == ["instance", "stop", env.instance]


def test_state_persists_and_timeouts_kill(fake_apptainer) -> None:
    env = manager.get_environment("t")
    env.execute("cd / && export STAY=here", timeout=10)
    assert env.execute("pwd; echo $STAY", timeout=10).output == "/\nhere\n"
    started = time.monotonic()
    result = env.execute("sleep 30", timeout=1)
    assert result.timed_out and result.exit_code == 124 and time.monotonic() - started < 10


def test_sif_is_built_once_and_cached(fake_apptainer) -> None:
    first = manager.get_environment("a")
    second = manager.get_environment("b")
    assert first.image == second.image and os.path.isfile(first.image)
    assert [call[0] for call in fake_apptainer()].count("build") == 1
    assert not [name for name in os.listdir(os.path.dirname(first.image)) if name.endswith(".partial")]


def test_overlay_dir_instead_of_tmpfs(fake_apptainer, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERMINAL_SINGULARITY_OVERLAY", str(tmp_path / "overlay"))
    env = manager.get_environment("t")
    start = next(call for call in fake_apptainer() if call[:2] == ["instance", "start"])
    assert start == ["instance", "start", "--containall", "--overlay", str(tmp_path / "overlay"), env.image,
                     env.instance]


def test_local_sif_is_used_as_is(fake_apptainer, monkeypatch, tmp_path: Path) -> None:
    sif = tmp_path / "mine.sif"
    sif.write_text("x")
    monkeypatch.setenv("TERMINAL_SINGULARITY_IMAGE", str(sif))
    env = manager.get_environment("t")
    assert env.image == str(sif) and "build" not in [call[0] for call in fake_apptainer()]


def test_build_failure_is_one_clear_error(fake_apptainer, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_SINGULARITY_IMAGE", "docker://unreachable.example/img:1")
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    assert str(err.value) == ("singularity backend: cannot build docker://unreachable.example/img:1: FATAL:   "
                              "While performing build: docker://unreachable.example/img:1: no such host")


def test_missing_binary_is_one_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "apptainer")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnavailable, match="neither `apptainer` nor `singularity` is installed"):
        manager.get_environment("t")


def test_cleanup_kills_leftovers(fake_apptainer) -> None:
    env = manager.get_environment("t")
    marker = f"hermes-sing-leftover-{os.getpid()}"
    env.execute(f"(exec -a {marker} sleep 300) >/dev/null 2>&1 &", timeout=10)
    import subprocess
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0
    manager.cleanup_environment("t")
    assert eventually(lambda: subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0)


@pytest.mark.live
def test_file_tools_go_through_the_instance(fake_apptainer, run_tool, tmp_path: Path) -> None:
    target = tmp_path / "made" / "by_tool.txt"
    assert run_tool("write_file", {"path": str(target), "content": "one\n"})["action"] == "created"
    assert run_tool("read_file", {"path": str(target)})["content"] == "     1\tone"
    assert target.read_text() == "one\n"  # the stand-in's instance shares this machine's files
    assert sum(call[:1] == ["exec"] for call in fake_apptainer()) >= 3  # write, stat, read: all via exec


def test_live_apptainer(monkeypatch) -> None:
    binary = shutil.which("apptainer") or shutil.which("singularity")
    image = os.environ.get("HERMES_LIVE_SINGULARITY_IMAGE")
    if binary is None or not image:
        pytest.skip("live Apptainer test: needs apptainer/singularity on PATH and "
                    "HERMES_LIVE_SINGULARITY_IMAGE (a local .sif with bash)")
    monkeypatch.setenv("TERMINAL_ENV", "singularity")
    monkeypatch.setenv("TERMINAL_SINGULARITY_IMAGE", image)
    env = manager.get_environment("live")
    env.execute("cd /tmp && export A=1", timeout=60)
    assert env.execute("pwd; echo $A", timeout=60).output == "/tmp\n1\n"
