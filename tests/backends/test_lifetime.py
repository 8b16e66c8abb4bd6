"""TERMINAL_LIFETIME_SECONDS: the reaper thread cleans up environments idle that long, never busy ones."""

from __future__ import annotations

import os
import threading
import time

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
