"""SSH backend against a real sshd on 127.0.0.1 (our own child process, generated keys)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from backend_daemons import eventually

from tools.environments import manager
from tools.environments.manager import BackendUnavailable


def _remote_alive(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_state_persists_and_exit_codes(ssh_env) -> None:
    env = manager.get_environment("t1")
    assert env.backend == "ssh"
    first = env.execute("cd /tmp && export GREETING='hello world'; echo started", timeout=10)
    assert (first.output, first.exit_code) == ("started\n", 0)
    second = env.execute("pwd; echo \"$GREETING\"; echo oops >&2; exit 7", timeout=10)
    assert second.output == "/tmp\nhello world\noops\n"
    assert second.exit_code == 7


def test_tasks_are_isolated(ssh_env) -> None:
    a, b = manager.get_environment("a"), manager.get_environment("b")
    a.execute("export ONLY_A=1; cd /", timeout=10)
    assert b.execute("echo \"[${ONLY_A-}]\"", timeout=10).output == "[]\n"
    assert a.state_dir != b.state_dir


def test_control_master_reuses_one_connection(ssh_env) -> None:
    def logins() -> int:
        return ssh_env.log.read_text(encoding="utf-8").count("Accepted publickey")

    before = logins()
    env = manager.get_environment("t")
    master = env.master
    for _ in range(5):
        assert env.execute("true", timeout=10).exit_code == 0
    assert env.masters_started == 1 and env.master is master and master.poll() is None
    # Every command went through the master: one login for all of them (latency is in bench/).
    assert logins() - before == 1


def test_timeout_kills_the_remote_process(ssh_env, tmp_path: Path) -> None:
    env = manager.get_environment("t")
    env.execute("true", timeout=30)  # connected first: on a loaded machine a login alone can take a second
    marker = f"hermes-ssh-timeout-{os.getpid()}"
    result = env.execute(f"echo begin; exec -a {marker} sleep 60", timeout=2)
    assert result.timed_out and result.exit_code == 124
    assert "begin" in result.output and "timed out after 2 s" in result.output
    assert eventually(lambda: not _remote_alive(marker))
    assert env.execute("echo still usable", timeout=10).output == "still usable\n"


def test_interrupt_kills_the_remote_process(ssh_env) -> None:
    env = manager.get_environment("t")
    marker = f"hermes-ssh-interrupt-{os.getpid()}"
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = env.execute(f"exec -a {marker} sleep 60", timeout=30, interrupt=stop)
    assert result.interrupted and result.exit_code == 130
    assert eventually(lambda: not _remote_alive(marker))


def test_dropped_master_is_reestablished(ssh_env) -> None:
    env = manager.get_environment("t")
    env.execute("export KEEP=me", timeout=10)
    env.master.kill()  # the connection drops
    env.master.wait()
    result = env.execute("echo $KEEP", timeout=10)
    assert (result.output, result.exit_code) == ("me\n", 0)
    assert env.masters_started == 2


def test_huge_output_is_truncated(ssh_env) -> None:
    env = manager.get_environment("t")
    result = env.execute("seq 1 200000", timeout=30)
    assert result.truncated_chars > 0
    assert result.output.startswith("1\n2\n") and result.output.endswith("199999\n200000\n")
    assert "characters truncated" in result.output


def test_file_transfer(ssh_env, tmp_path: Path) -> None:
    env = manager.get_environment("t")
    env.execute("cd /tmp", timeout=10)
    source = tmp_path / "up.txt"
    source.write_text("payload\n")
    env.upload(str(source), f"hermes-up-{os.getpid()}.txt")
    assert env.execute(f"cat hermes-up-{os.getpid()}.txt", timeout=10).output == "payload\n"
    env.execute(f"echo back > hermes-down-{os.getpid()}.txt", timeout=10)
    env.download(f"hermes-down-{os.getpid()}.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_text() == "back\n"
    env.execute(f"rm -f hermes-up-{os.getpid()}.txt hermes-down-{os.getpid()}.txt", timeout=10)


def test_strict_host_key_policy_refuses_an_unknown_host(ssh_env, monkeypatch, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    monkeypatch.setenv("TERMINAL_SSH_KNOWN_HOSTS", str(empty))
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    message = str(err.value)
    assert "Host key verification failed" in message and "TERMINAL_SSH_HOST_KEY_POLICY" in message
    assert "\n" not in message


def test_accept_new_policy_records_the_host(ssh_env, monkeypatch, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    monkeypatch.setenv("TERMINAL_SSH_KNOWN_HOSTS", str(known))
    monkeypatch.setenv("TERMINAL_SSH_HOST_KEY_POLICY", "accept-new")
    assert manager.get_environment("t").execute("echo ok", timeout=10).output == "ok\n"
    host_key = ssh_env.known_hosts.read_text().split()[2]
    assert host_key in known.read_text()  # trusted on first use (the entry may be hashed)


def test_unreachable_host_is_one_clear_error(ssh_env, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_SSH_PORT", "1")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    assert time.monotonic() - started < 10
    assert str(err.value).startswith("ssh backend: cannot connect to root@127.0.0.1 port 1:")
    assert "refused" in str(err.value)


def test_cleanup_leaves_nothing_behind(ssh_env) -> None:
    env = manager.get_environment("t")
    marker = f"hermes-ssh-leftover-{os.getpid()}"
    result = env.execute(f"(exec -a {marker} sleep 300) >/dev/null 2>&1 & echo started", timeout=10)
    assert "started" in result.output and "still running" in result.output
    assert _remote_alive(marker)
    state_dir, master, local_dir = env.state_dir, env.master, env.local_dir
    manager.cleanup_environment("t")
    assert not _remote_alive(marker)
    assert not os.path.exists(state_dir)
    assert master.poll() is not None and not os.path.exists(local_dir)


def test_background_command_runs_and_is_killed_at_cleanup(ssh_env, run_tool) -> None:
    marker = f"hermes-ssh-bg-{os.getpid()}"
    run_tool("terminal", {"command": "cd /tmp && export WHO=bg"})
    started = run_tool("terminal", {"command": f"echo $WHO in $PWD; exec -a {marker} sleep 300",
                                    "background": True})
    assert started["status"] == "started"
    assert eventually(
        lambda: run_tool("terminal", {"command": f"cat {started['output_file']}"})["output"] == "bg in /tmp\n")
    assert eventually(lambda: _remote_alive(marker))
    manager.cleanup_environment("t")
    assert not _remote_alive(marker)
