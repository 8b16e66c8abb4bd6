"""Docker backend against a real, private dockerd and a locally built image (no registry needed)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from backend_daemons import eventually

from tools.environments import manager
from tools.environments.manager import BackendUnavailable


def _inspect(dockerd, name: str) -> dict:
    return json.loads(dockerd.docker("inspect", name).stdout)[0]


def _ours(dockerd) -> list[str]:
    return dockerd.docker("ps", "-aq", "--filter", "label=hermes.pid").stdout.split()


def test_state_persists_and_container_is_hardened(docker_env) -> None:
    env = manager.get_environment("t1")
    assert env.backend == "docker"
    assert env.execute("pwd", timeout=10).output == "/workspace\n"
    env.execute("mkdir -p /tmp/x && cd /tmp/x && export GREETING='hi there'", timeout=10)
    result = env.execute("pwd; echo \"$GREETING\"; echo err >&2; exit 5", timeout=10)
    assert (result.output, result.exit_code) == ("/tmp/x\nhi there\nerr\n", 5)
    host = _inspect(docker_env, env.name)["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == 512 and host["Memory"] == 2 * 1024**3 and host["NanoCpus"] == 2 * 10**9
    assert host["NetworkMode"] == "none"


def test_limits_come_from_config(docker_env, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_DOCKER_MEMORY", "256m")
    monkeypatch.setenv("TERMINAL_DOCKER_CPUS", "0.5")
    monkeypatch.setenv("TERMINAL_DOCKER_PIDS_LIMIT", "64")
    env = manager.get_environment("t")
    host = _inspect(docker_env, env.name)["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (256 * 1024**2, 5 * 10**8, 64)
    assert env.execute("cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
                       timeout=10).output.strip() == "64"


def test_tasks_get_separate_containers(docker_env) -> None:
    a, b = manager.get_environment("a"), manager.get_environment("b")
    a.execute("echo secret > /tmp/only-a", timeout=10)
    assert a.name != b.name
    assert b.execute("cat /tmp/only-a", timeout=10).exit_code != 0


def test_bind_mount_and_env_allow_list(docker_env, monkeypatch, work: Path) -> None:
    monkeypatch.setenv("TERMINAL_CWD", str(work))
    monkeypatch.setenv("TERMINAL_DOCKER_MOUNT_CWD", "true")
    monkeypatch.setenv("TERMINAL_DOCKER_FORWARD_ENV", "ALLOWED_VAR")
    monkeypatch.setenv("ALLOWED_VAR", "yes")
    monkeypatch.setenv("NOT_ALLOWED_VAR", "no")
    env = manager.get_environment("t")
    result = env.execute("echo from-container > made.txt; echo \"$ALLOWED_VAR[${NOT_ALLOWED_VAR-}]\"", timeout=10)
    assert result.output == "yes[]\n"
    assert (work / "made.txt").read_text() == "from-container\n"
    assert "ALLOWED_VAR=yes" not in " ".join(env.run_argv)  # the value never appears in an argv


def test_timeout_kills_the_process_inside_the_container(docker_env) -> None:
    env = manager.get_environment("t")
    result = env.execute("echo begin; sleep 60", timeout=1)
    assert result.timed_out and result.exit_code == 124 and "begin" in result.output
    assert eventually(lambda: "sleep 60" not in docker_env.docker("exec", env.name, "ps", "-o", "args").stdout)
    assert env.execute("echo again", timeout=10).output == "again\n"


def test_interrupt_kills_the_process_inside_the_container(docker_env) -> None:
    env = manager.get_environment("t")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = env.execute("sleep 61", timeout=30, interrupt=stop)
    assert result.interrupted and result.exit_code == 130
    assert eventually(lambda: "sleep 61" not in docker_env.docker("exec", env.name, "ps", "-o", "args").stdout)


def test_huge_output_is_truncated(docker_env) -> None:
    result = manager.get_environment("t").execute("seq 1 200000", timeout=30)
    assert result.truncated_chars > 0 and result.output.endswith("200000\n")


def test_container_removed_at_cleanup(docker_env) -> None:
    env = manager.get_environment("t")
    env.execute("sleep 300 >/dev/null 2>&1 &", timeout=10)
    assert env.name in docker_env.docker("ps", "--format", "{{.Names}}").stdout
    manager.cleanup_environment("t")
    assert _ours(docker_env) == []


def test_idle_environment_is_reaped_after_lifetime(docker_env, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "1")
    used = time.monotonic()  # get_environment marks the use (a loaded machine may take seconds to start it)
    env = manager.get_environment("t")
    env.execute("true", timeout=10)
    assert manager.reap_idle(now=used + 0.5) == []  # not idle long enough yet
    assert manager.reap_idle(now=time.monotonic() + 5) == ["t"]
    assert manager.peek_environment("t") is None and _ours(docker_env) == []


def test_image_without_bash_is_one_clear_error(docker_env, monkeypatch, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    import shutil
    shutil.copy2(shutil.which("busybox"), rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sleep").symlink_to("busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    import subprocess
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    subprocess.run(["docker", "import", "-", "hermes-test/nobash:1"], input=tar, check=True, capture_output=True,
                   env={"DOCKER_HOST": docker_env.host, "PATH": "/usr/local/bin:/usr/bin:/bin"})
    monkeypatch.setenv("TERMINAL_DOCKER_IMAGE", "hermes-test/nobash:1")
    with pytest.raises(BackendUnavailable, match="the image needs bash"):
        manager.get_environment("t")
    assert _ours(docker_env) == []


def test_missing_image_without_registry_is_one_clear_error(docker_env, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_DOCKER_IMAGE", "hermes-test/does-not-exist:1")
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    assert str(err.value).startswith("docker backend: cannot start a container from hermes-test/does-not-exist:1:")
    assert "\n" not in str(err.value)
    assert _ours(docker_env) == []


def test_no_daemon_is_one_clear_error(monkeypatch, tmp_path: Path) -> None:
    import shutil
    if shutil.which("docker") is None:
        pytest.skip("docker client not installed")
    monkeypatch.setenv("TERMINAL_ENV", "docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    assert time.monotonic() - started < 10
    assert "Cannot connect to the Docker daemon" in str(err.value)


def test_background_command_runs_and_is_killed_at_cleanup(docker_env, run_tool) -> None:
    run_tool("terminal", {"command": "cd /tmp && export WHO=bg"})
    started = run_tool("terminal", {"command": "echo $WHO in $PWD; sleep 300", "background": True})
    assert started["status"] == "started" and started["output_file"].endswith(".log")
    assert eventually(
        lambda: run_tool("terminal", {"command": f"cat {started['output_file']}"})["output"] == "bg in /tmp\n")
    env = manager.peek_environment("t")
    assert "sleep 300" in docker_env.docker("exec", env.name, "ps", "-o", "args").stdout
    manager.cleanup_environment("t")
    assert _ours(docker_env) == []


def test_a_task_can_have_its_own_image(docker_env) -> None:
    # batch rows carry an `image`: the task's container uses it, other tasks keep the configured one
    manager.configure_task("row-7", image="hermes-test/does-not-exist:2")
    with pytest.raises(BackendUnavailable, match="hermes-test/does-not-exist:2"):
        manager.get_environment("row-7")
    assert manager.get_environment("other").execute("echo fine", timeout=10).output == "fine\n"
    manager.cleanup_environment("row-7")  # forgets the task's settings
    assert "row-7" not in manager._overrides
