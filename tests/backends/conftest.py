"""Backend tests: real dockerd and sshd (our own, on loopback) when this machine can run them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import backend_daemons as daemons
import pytest

from tools.environments import manager


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[daemons.Dockerd]:
    reason = daemons.docker_skip_reason()
    if reason:
        pytest.skip(f"docker backend tests: {reason}")
    base = tmp_path_factory.mktemp("dockerd")
    daemon = daemons.start_dockerd(base)
    try:
        daemon.image = daemons.build_test_image(daemon, base)
        yield daemon
    finally:
        leftovers = daemon.docker("ps", "-aq", check=False).stdout.split()
        if leftovers:
            daemon.docker("rm", "-f", *leftovers, check=False)
        daemons.stop_process(daemon.proc)


@pytest.fixture
def docker_env(dockerd: daemons.Dockerd, monkeypatch: pytest.MonkeyPatch) -> Iterator[daemons.Dockerd]:
    """TERMINAL_ENV=docker against the private daemon and the test image."""
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    monkeypatch.setenv("TERMINAL_ENV", "docker")
    monkeypatch.setenv("TERMINAL_DOCKER_IMAGE", dockerd.image)
    monkeypatch.setenv("TERMINAL_DOCKER_NETWORK", "none")
    yield dockerd
    manager.cleanup_all()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[daemons.Sshd]:
    reason = daemons.sshd_skip_reason()
    if reason:
        pytest.skip(f"ssh backend tests: {reason}")
    server = daemons.start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        daemons.stop_process(server.proc)


@pytest.fixture
def ssh_env(sshd: daemons.Sshd, monkeypatch: pytest.MonkeyPatch) -> Iterator[daemons.Sshd]:
    """TERMINAL_ENV=ssh to the loopback sshd with the generated key and a known_hosts entry."""
    monkeypatch.setenv("TERMINAL_ENV", "ssh")
    monkeypatch.setenv("TERMINAL_SSH_HOST", "127.0.0.1")
    monkeypatch.setenv("TERMINAL_SSH_PORT", str(sshd.port))
    monkeypatch.setenv("TERMINAL_SSH_USER", sshd.user)
    monkeypatch.setenv("TERMINAL_SSH_KEY", str(sshd.client_key))
    monkeypatch.setenv("TERMINAL_SSH_KNOWN_HOSTS", str(sshd.known_hosts))
    yield sshd
    manager.cleanup_all()


@pytest.fixture(autouse=True)
def _cleanup_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local commands start in a private directory; every environment is gone after each test."""
    start = tmp_path / "start"
    start.mkdir()
    monkeypatch.setenv("TERMINAL_CWD", str(start))
    yield
    manager.cleanup_all()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def run_tool() -> Callable[..., dict[str, Any]]:
    """run_tool(name, args, task_id="t") -> the parsed JSON result of the tool's handler (file edits
    run in auto-edit mode unless `approval_mode` is given)."""
    import model_tools
    from tools.registry import REGISTRY, ToolContext

    model_tools.load_tools()

    def run(name: str, args: dict[str, Any], task_id: str = "t", **ctx_fields: Any) -> dict[str, Any]:
        ctx_fields.setdefault("approval_mode", "auto-edit")
        return json.loads(REGISTRY[name].handler(args, ToolContext(task_id=task_id, **ctx_fields)))

    return run


@pytest.fixture
def fake_modal(monkeypatch: pytest.MonkeyPatch):
    """TERMINAL_ENV=modal with the stand-in at the SDK boundary (fake_modal.FakeModal); no network."""
    from fake_modal import FakeModal

    from tools.environments import modal_env

    sdk = FakeModal()
    modal_env.set_sdk_factory(lambda: sdk)
    monkeypatch.setenv("TERMINAL_ENV", "modal")
    yield sdk
    manager.cleanup_all()
    modal_env.set_sdk_factory(None)
    for sandbox in sdk.sandboxes.values():
        sandbox.terminate()
