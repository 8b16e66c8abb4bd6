"""The backend contract is declared, not probed: every backend is an `Environment` and overrides what
callers use; configuration is read from os.environ in one place only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.environments.base import Environment

CAPABILITIES = ("execute", "start_background", "set_sudo_password", "cleanup")
# `busy()` and idle time are shared (base.Activity): local and remote `execute`/`run_raw` run inside
# `activity.command()` (tests/backends/test_lifetime.py checks both on real backends).


def backend_classes() -> list[type]:
    from tools.environments.docker import DockerEnvironment
    from tools.environments.local import LocalEnvironment
    from tools.environments.modal_env import ModalEnvironment
    from tools.environments.singularity import SingularityEnvironment
    from tools.environments.ssh import SSHEnvironment

    return [LocalEnvironment, DockerEnvironment, SSHEnvironment, SingularityEnvironment, ModalEnvironment]


@pytest.mark.parametrize("cls", backend_classes(), ids=lambda c: c.__name__)
def test_every_backend_implements_the_declared_capabilities(cls: type):
    assert issubclass(cls, Environment)
    for name in CAPABILITIES:
        assert getattr(cls, name) is not getattr(Environment, name), (cls.__name__, name)
    assert cls.has_raw_channel == (cls.backend != "local")


def test_callers_do_not_probe_backends():
    sources = [ROOT / "tools" / "terminal_tool.py", ROOT / "tools" / "process_tool.py",
               ROOT / "tools" / "environments" / "manager.py", ROOT / "tools" / "environments" / "files.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(getattr|hasattr)\((env|proc)\b", text), path.name


# Reads of os.environ that are not configuration: secrets handed to the SDK or to commands, terminal
# conventions, third-party library knobs, the tools' own API keys (README "Configuration"), and
# hiding credentials from /proc at start-up (hide_secrets.py moves secret variables, proc_scrub.py
# overwrites them in place; both run before the settings are read).
NOT_CONFIGURATION = {
    "agent/secrets.py", "exports/tokenizer.py", "exports/workers.py", "hermes_cli/repl/render.py",
    "hermes_cli/repl/typeahead.py",  # TERM=dumb: no live region
    "hermes_cli/export_cmd.py", "hermes_cli/rl_check.py",  # $HERMES_TOKENIZER, as `hermes export` reads it
    "hermes_cli/rl_cli.py",  # quiets transformers' import-time notice (a library knob)
    "tools/environments/sudo.py", "tools/environments/modal_env.py",
    "tools/environments/env_policy.py",  # the environment local commands inherit, minus secrets
    "hermes_cli/hide_secrets.py", "hermes_cli/proc_scrub.py",  # hiding the credentials from /proc
}
# Not configuration either: after re-executing itself, hermes restores its own environment.
RESTORES_ITS_ENVIRONMENT = {"hermes_cli/hide_secrets.py"}


def test_only_the_settings_loader_reads_the_environment_for_configuration():
    readers = set()
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("tests/", "bench/", ".")) or "/." in relative:
            continue
        if re.search(r"os\.environ(?!\w)|os\.getenv", path.read_text(encoding="utf-8")):
            readers.add(relative)
    assert readers - NOT_CONFIGURATION == {"agent/settings/loader.py"}


def test_nothing_writes_configuration_into_the_environment():
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("tests/", "bench/", ".")) or relative == "agent/settings/loader.py":
            continue
        text = path.read_text(encoding="utf-8")
        if relative in RESTORES_ITS_ENVIRONMENT:
            text = text.replace("os.environ.update(payload[\"env\"])", "")
        assert not re.search(r"os\.environ\[[^\]]+\]\s*=|os\.environ\.update", text), relative
        assert not re.search(r"setdefault\(\"(TERMINAL|HERMES)_", text), relative


def test_the_local_backend_gets_the_sandbox_settings(tmp_path: Path):
    from agent.settings import load_settings
    from tools.environments import manager

    (tmp_path / "config.yaml").write_text(
        "terminal: {sandbox: read-only, sandbox_network: false, env_passthrough: [GOPATH]}\n", encoding="utf-8")
    terminal = load_settings(None, cwd=tmp_path, environ={"HERMES_HOME": str(tmp_path)}).terminal
    env = manager.get_environment("sandboxed", settings=terminal)
    try:
        assert (env.settings.sandbox, env.settings.sandbox_network, env.settings.env_passthrough) == (
            "read-only", False, ["GOPATH"])
    finally:
        manager.cleanup_environment("sandboxed")
