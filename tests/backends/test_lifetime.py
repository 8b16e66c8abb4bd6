"""TERMINAL_LIFETIME_SECONDS: the reaper thread cleans up environments idle that long, never busy ones."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.tools.proc_util import wait_for
from tools.environments import manager


def test_idle_environment_is_cleaned_up(monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "1")
    env = manager.get_environment("idle")
    env.execute("true", timeout=30)
    state_dir = env.state_dir
    # the reaper forgets the environment, then removes its files
    assert wait_for(lambda: manager.peek_environment("idle") is None and not os.path.exists(state_dir), timeout=30)


def test_busy_environment_is_left_alone(monkeypatch, tmp_path) -> None:
    # a lifetime well above the gap between get_environment and the command's start, even on a loaded machine
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "1")
    env = manager.get_environment("busy")
    result = {}
    started, go = tmp_path / "started", tmp_path / "go"  # the command runs until the test says go
    command = f"touch {started}; while [ ! -e {go} ]; do sleep 0.01; done; echo done"
    worker = threading.Thread(target=lambda: result.setdefault("r", env.execute(command, timeout=20)))
    worker.start()
    assert wait_for(started.exists, timeout=30)
    time.sleep(2.5)  # two and a half lifetimes
    assert manager.peek_environment("busy") is env  # idle by the clock, but a command is running
    go.touch()
    worker.join()
    assert result["r"].output == "done\n"
    assert wait_for(lambda: manager.peek_environment("busy") is None, timeout=30)


def test_idle_time_counts_from_the_end_of_the_last_command(monkeypatch, run_tool) -> None:
    """A command longer than the lifetime, then quiet: the environment lives on for a full lifetime
    after the command ends (before, idle time ran from when the tool fetched the environment, so the
    reaper took it the moment a long command finished)."""
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "2")
    result = run_tool("terminal", {"command": "export KEPT=yes; sleep 2.6; echo slept"}, task_id="long")
    ended = time.monotonic()
    assert result["output"] == "slept\n"
    env = manager.peek_environment("long")
    assert env is not None  # the reaper thread (every 0.5 s) did not take it as the command ended
    assert manager.reap_idle(now=ended + 1.0) == []  # 1 s after the end: idle, not for a lifetime yet
    assert manager.peek_environment("long") is env
    assert run_tool("terminal", {"command": "echo $KEPT"}, task_id="long")["output"] == "yes\n"  # same shell
    assert manager.reap_idle(now=time.monotonic() + 2.5) == ["long"]  # a lifetime after the last command
    assert manager.peek_environment("long") is None


def test_idle_time_is_measured_per_command_not_per_fetch(monkeypatch) -> None:
    """A caller that holds the environment and runs commands without fetching it again (batch's
    verifier, an RL rollout's exec) keeps it alive with each command; a command running when the
    lifetime passes is never cut."""
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "1")
    env = manager.get_environment("held")
    for _ in range(3):
        env.execute("sleep 0.6", timeout=30)  # each ends well within a lifetime of the last one
        assert manager.peek_environment("held") is env
    assert env.execute("sleep 1.6; echo whole", timeout=30).output == "whole\n"
    assert manager.reap_idle(now=time.monotonic() + 0.5) == []
    assert manager.peek_environment("held") is env
    assert wait_for(lambda: manager.peek_environment("held") is None, timeout=30)


def test_a_reaped_environment_runs_nothing_more_and_the_task_gets_a_fresh_one(monkeypatch, work) -> None:
    """The reaper claims an environment in one step with its idle check, so a command cannot start in
    it half-way through its clean-up; the task's own settings (batch: its cwd) outlive the reaping."""
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "30")
    manager.configure_task("fresh", cwd=str(work))
    env = manager.get_environment("fresh")
    env.execute("export GONE=1", timeout=30)
    assert manager.reap_idle(now=time.monotonic() + 60) == ["fresh"]
    with pytest.raises(RuntimeError, match="cleaned up"):
        env.execute("true", timeout=30)
    again = manager.get_environment("fresh")
    assert again is not env and again.cwd == str(work)
    assert again.execute('echo "[$GONE]"; pwd', timeout=30).output == f"[]\n{work}\n"


def test_remote_idle_time_counts_from_the_end_of_the_last_command(ssh_env, monkeypatch) -> None:
    """Over ssh too, and a file tool's raw script counts as a command."""
    monkeypatch.setenv("TERMINAL_LIFETIME_SECONDS", "2")
    env = manager.get_environment("remote")
    assert env.execute("sleep 2.6; echo slept", timeout=30).output == "slept\n"
    assert manager.reap_idle(now=time.monotonic() + 1.0) == []
    assert manager.peek_environment("remote") is env
    code, out, _ = env.run_raw("sleep 2.6; echo raw", timeout=30)
    assert (code, out) == (0, "raw\n")
    assert manager.reap_idle(now=time.monotonic() + 1.0) == []
    assert manager.peek_environment("remote") is env
    assert manager.reap_idle(now=time.monotonic() + 2.5) == ["remote"]
