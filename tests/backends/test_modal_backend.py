"""Modal backend: pool and lifecycle through a stand-in at the SDK boundary (Modal's cloud is unreachable).

The stand-in (`fake_modal.FakeModal`) replaces `RealModal`, the one class that calls the SDK; the
sandboxes it hands out run commands as local bash processes, so everything above the boundary is real.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from backend_daemons import eventually

from tools.environments import manager, modal_env
from tools.environments.manager import BackendUnavailable
from tools.environments.modal_profiles import load_profiles


def test_terminal_tool_runs_in_a_sandbox_with_profile(fake_modal, monkeypatch, run_tool) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_BIG_IMAGE", "python:3.12")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_BIG_CPU", "4")
    first = run_tool("terminal", {"command": "cd / && export X=42", "profile": "big"})
    assert first["exit_code"] == 0
    second = run_tool("terminal", {"command": "pwd; echo $X"})
    assert second["output"] == "/\n42\n"
    assert [profile for profile, _ in fake_modal.created] == ["big"]
    profile = fake_modal.sandboxes[fake_modal.created[0][1]].profile
    assert (profile.image, profile.cpu) == ("python:3.12", 4.0)


def test_unknown_profile_is_one_clear_error(fake_modal, run_tool) -> None:
    result = run_tool("terminal", {"command": "true", "profile": "nope"})
    assert result["error"].startswith("unknown modal profile 'nope'; known: default")
    assert fake_modal.created == []


def test_profiles_from_yaml_and_variables(monkeypatch, tmp_path: Path) -> None:
    path = tmp_path / "modal_profiles.yaml"
    path.write_text("default:\n  image: debian:12\n  min_pool: 1\ngpu:\n  gpu: A10G\n  secrets: [hf, wandb]\n")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILES_FILE", str(path))
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_GPU_MAX_POOL", "2")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_IDLE_TIMEOUT", "30")
    profiles = load_profiles()
    assert (profiles["default"].image, profiles["default"].min_pool, profiles["default"].idle_timeout) == (
        "debian:12", 1, 30.0)
    assert (profiles["gpu"].gpu, profiles["gpu"].secrets, profiles["gpu"].max_pool) == ("A10G", ("hf", "wandb"), 2)
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_GPU_MAX_POOL", "many")
    with pytest.raises(BackendUnavailable, match="TERMINAL_MODAL_PROFILE_GPU_MAX_POOL: max_pool='many' is not a"):
        load_profiles()


def test_warm_pool_serves_the_next_task(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MIN_POOL", "1")
    a = manager.get_environment("a")
    pool = a.pool
    _wait_for(lambda: len(pool.warm) == 1)
    assert len(fake_modal.created) == 2  # a's sandbox, and one warm for the next task
    b = manager.get_environment("b")
    assert b.sandbox_name == fake_modal.created[1][1]  # taken warm, not created on demand
    _wait_for(lambda: len(pool.warm) == 1)
    assert b.execute("echo warm", timeout=10).output == "warm\n"


def test_max_pool_makes_tasks_wait_then_fail_clearly(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MAX_POOL", "1")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_ACQUIRE_TIMEOUT", "0.3")
    manager.get_environment("a")
    with pytest.raises(BackendUnavailable, match="all 1 sandboxes of profile 'default' are busy"):
        manager.get_environment("b")
    manager.cleanup_environment("a")
    assert manager.get_environment("b").execute("echo freed", timeout=10).output == "freed\n"


def test_idle_warm_sandboxes_scale_down_to_min(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MIN_POOL", "1")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MAX_POOL", "5")
    env = manager.get_environment("a")
    pool = env.pool
    _wait_for(lambda: len(pool.warm) == 1)
    pool.warm.append(("extra", fake_modal.create_sandbox(pool.profile, "extra"), pool.clock()))
    assert pool.scale_down(now=pool.clock() + 1) == 0  # not idle long enough
    assert pool.scale_down(now=pool.clock() + 301) == 1  # one goes, min_pool=1 stays warm
    assert len(pool.warm) == 1 and len(fake_modal.terminated) == 1


def test_named_sandbox_is_recovered_after_a_restart(fake_modal) -> None:
    env = manager.get_environment("job-7")
    assert env.execute("echo ok", timeout=10).output == "ok\n"
    name = env.sandbox_name
    # Simulate a crash: forget every pool and environment without terminating anything.
    modal_env._pools.clear()
    manager._envs.clear()
    again = manager.get_environment("job-7")
    assert again.sandbox_name == name and len(fake_modal.created) == 1
    assert ("hermes-agent", name) in fake_modal.lookups
    assert again.execute("echo still here", timeout=10).output == "still here\n"


def test_timeout_kills_the_process_in_the_sandbox(fake_modal) -> None:
    env = manager.get_environment("t")
    marker = f"hermes-modal-timeout-{os.getpid()}"
    result = env.execute(f"exec -a {marker} sleep 30", timeout=1)
    assert result.timed_out and result.exit_code == 124
    import subprocess
    assert eventually(lambda: subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0)


def test_everything_terminated_at_cleanup(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MIN_POOL", "1")
    env = manager.get_environment("a")
    _wait_for(lambda: len(env.pool.warm) == 1)
    manager.cleanup_all()
    modal_env.shutdown_pools()  # what atexit does
    assert fake_modal.alive() == []
    assert not Path(modal_env._records_path()).exists() or "default/a" not in Path(
        modal_env._records_path()).read_text(encoding="utf-8")


def test_no_credentials_is_one_clear_error_without_network(monkeypatch, tmp_path: Path) -> None:
    modal_env.set_sdk_factory(None)
    monkeypatch.setenv("TERMINAL_ENV", "modal")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.modal.toml
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as err:
        manager.get_environment("t")
    assert time.monotonic() - started < 30  # no connection attempts and retries (importing modal alone takes 1-5 s)
    assert str(err.value).startswith("modal backend: no Modal credentials")


@pytest.mark.live
def test_live_modal(monkeypatch) -> None:
    if not (os.environ.get("HERMES_LIVE_MODAL_TOKEN_ID") and os.environ.get("HERMES_LIVE_MODAL_TOKEN_SECRET")):
        pytest.skip("live Modal test: set HERMES_LIVE_MODAL_TOKEN_ID/SECRET (the suite hides MODAL_TOKEN_*)")
    monkeypatch.setenv("MODAL_TOKEN_ID", os.environ["HERMES_LIVE_MODAL_TOKEN_ID"])
    monkeypatch.setenv("MODAL_TOKEN_SECRET", os.environ["HERMES_LIVE_MODAL_TOKEN_SECRET"])
    monkeypatch.setenv("TERMINAL_ENV", "modal")
    modal_env.set_sdk_factory(None)
    env = manager.get_environment("live")
    env.execute("cd /tmp && export A=1", timeout=120)
    assert env.execute("pwd; echo $A", timeout=120).output == "/tmp\n1\n"
    manager.cleanup_all()


def _wait_for(predicate, timeout: float = 5) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_waiting_task_gets_the_slot_another_task_frees(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MAX_POOL", "1")
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_ACQUIRE_TIMEOUT", "20")
    manager.get_environment("a")
    got = {}
    waiter = threading.Thread(target=lambda: got.setdefault("b", manager.get_environment("b")))
    waiter.start()
    time.sleep(0.3)
    assert "b" not in got  # waiting for the pool, without blocking other tasks' cleanup
    manager.cleanup_environment("a")
    waiter.join(10)
    assert got["b"].execute("echo mine now", timeout=10).output == "mine now\n"


def test_a_warm_sandbox_that_died_is_not_handed_out(fake_modal, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MIN_POOL", "1")
    a = manager.get_environment("a")
    _wait_for(lambda: len(a.pool.warm) == 1)
    dead_name, dead, _ = a.pool.warm[0]
    dead.terminate()  # e.g. Modal ended it at its lifetime
    b = manager.get_environment("b")
    assert b.sandbox_name != dead_name
    assert b.execute("echo alive", timeout=10).output == "alive\n"
