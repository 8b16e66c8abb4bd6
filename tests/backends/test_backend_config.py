"""Backend settings come from config (`terminal.*`) as well as TERMINAL_* variables; variables win.

They reach the backends as a TerminalSettings object, never through os.environ.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.settings import load_settings
from tools.environments import manager
from tools.environments.manager import BackendUnavailable


def test_config_keys_reach_the_backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.yaml").write_text(
        "terminal:\n  backend: docker\n  docker_memory: 1g\n  docker_forward_env: [A, B]\n"
        "  ssh_host_key_policy: accept-new\n  modal_profile: gpu\n  docker_cpus: 3\n", encoding="utf-8")
    monkeypatch.setenv("HERMES_HOME", str(tmp_path))
    monkeypatch.setenv("TERMINAL_DOCKER_CPUS", "1")  # the environment wins over config
    before = dict(os.environ)
    terminal = load_settings(None, cwd=tmp_path).terminal
    assert dict(os.environ) == before  # nothing bridged into the environment
    assert (terminal.backend, terminal.docker_memory, terminal.docker_cpus) == ("docker", "1g", 1.0)
    assert terminal.docker_forward_env == ["A", "B"]
    assert terminal.ssh_host_key_policy == "accept-new" and terminal.modal_profile == "gpu"
    from tools.environments.docker import DockerEnvironment

    env = DockerEnvironment.__new__(DockerEnvironment)  # the argv comes from the settings object it is given
    env.settings, env.docker, env.name, env.image = terminal, "docker", "n", "img"
    argv = env._run_argv("/workspace", None)
    assert argv[argv.index("--memory") + 1] == "1g" and argv[argv.index("--cpus") + 1] == "1"


def test_bad_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "ssh")
    monkeypatch.setenv("TERMINAL_SSH_HOST", "127.0.0.1")
    monkeypatch.setenv("TERMINAL_SSH_PORT", "twenty-two")
    expected = (r"^env TERMINAL_SSH_PORT: 'twenty-two' is not valid for terminal\.ssh_port; "
                r"expected a whole number >= 1 and <= 65535$")
    with pytest.raises(BackendUnavailable, match=expected):
        manager.get_environment("t")
    with pytest.raises(ConfigError, match=expected):  # hermes itself stops before any model call
        load_settings(None)
    monkeypatch.setenv("TERMINAL_SSH_PORT", "22")
    monkeypatch.setenv("TERMINAL_SSH_HOST_KEY_POLICY", "yolo")
    with pytest.raises(BackendUnavailable, match="expected one of strict, accept-new, off"):
        manager.get_environment("t")


def test_ssh_without_host_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "ssh")
    with pytest.raises(BackendUnavailable, match="no host configured"):
        manager.get_environment("t")
