"""Backend settings come from config (`terminal.*`) as well as TERMINAL_* variables; variables win."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import apply_terminal_env, load_config
from tools.environments import manager
from tools.environments.manager import BackendUnavailable


def test_config_keys_reach_the_backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "terminal:\n  backend: docker\n  docker_memory: 1g\n  docker_forward_env: [A, B]\n"
        "  ssh_host_key_policy: accept-new\n  modal_profile: gpu\n  docker_cpus: 3\n", encoding="utf-8")
    monkeypatch.setenv("TERMINAL_DOCKER_CPUS", "1")  # the environment wins over config
    for name in ("TERMINAL_ENV", "TERMINAL_DOCKER_MEMORY", "TERMINAL_DOCKER_FORWARD_ENV",
                 "TERMINAL_SSH_HOST_KEY_POLICY", "TERMINAL_MODAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    apply_terminal_env(load_config(paths=[path]))
    try:
        assert os.environ["TERMINAL_ENV"] == "docker"
        assert os.environ["TERMINAL_DOCKER_MEMORY"] == "1g"
        assert os.environ["TERMINAL_DOCKER_CPUS"] == "1"
        assert os.environ["TERMINAL_SSH_HOST_KEY_POLICY"] == "accept-new"
        assert os.environ["TERMINAL_MODAL_PROFILE"] == "gpu"
        from tools.environments.settings import env_list
        assert env_list("TERMINAL_DOCKER_FORWARD_ENV") == ["A", "B"]
    finally:
        for name in ("TERMINAL_ENV", "TERMINAL_DOCKER_MEMORY", "TERMINAL_DOCKER_FORWARD_ENV",
                     "TERMINAL_SSH_HOST_KEY_POLICY", "TERMINAL_MODAL_PROFILE"):
            os.environ.pop(name, None)


def test_bad_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "ssh")
    monkeypatch.setenv("TERMINAL_SSH_HOST", "127.0.0.1")
    monkeypatch.setenv("TERMINAL_SSH_PORT", "twenty-two")
    with pytest.raises(BackendUnavailable, match=r"^TERMINAL_SSH_PORT='twenty-two' is not a whole number$"):
        manager.get_environment("t")
    monkeypatch.setenv("TERMINAL_SSH_PORT", "22")
    monkeypatch.setenv("TERMINAL_SSH_HOST_KEY_POLICY", "yolo")
    with pytest.raises(BackendUnavailable, match="use one of strict, accept-new, off"):
        manager.get_environment("t")


def test_ssh_without_host_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "ssh")
    with pytest.raises(BackendUnavailable, match="no host configured"):
        manager.get_environment("t")
