"""The terminal's environment: inherit, minus what looks secret by name or value, plus passthrough."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.environments.env_policy import terminal_environ
from tools.environments.local import LocalEnvironment

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
ENV = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "EDITOR": "vim", "TOKENIZERS_PARALLELISM": "false",
    "OPENAI_API_KEY": "sk-live-0123456789abcdef", "GITHUB_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123",
    "DB_PASSWORD": "hunter22", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "MY_CREDENTIALS_FILE": "/x", "SENTRY_DSN": "https://abc@sentry.io/1",
    "DATABASE_URL": "postgres://app:s3cretpw@db:5432/app", "SESSION_BLOB": JWT,
    "COPY_OF_KEY": "sk-live-0123456789abcdef", "HARMLESS_URL": "https://example.com/x",
    "SLACK": "xoxb-1234567890-abcdefghij", "SSH_AUTH_SOCK": "/run/ssh.sock",
}


def test_policy_drops_secrets_by_name_and_by_value() -> None:
    env = terminal_environ(ENV)
    assert set(env) == {"PATH", "LANG", "EDITOR", "TOKENIZERS_PARALLELISM", "HARMLESS_URL", "SSH_AUTH_SOCK"}


def test_passthrough_names_are_kept_whatever_they_look_like() -> None:
    env = terminal_environ(ENV, passthrough=["GITHUB_TOKEN", "DATABASE_URL", "NOT_SET"])
    assert env["GITHUB_TOKEN"] == ENV["GITHUB_TOKEN"] and env["DATABASE_URL"] == ENV["DATABASE_URL"]
    assert "NOT_SET" not in env and "OPENAI_API_KEY" not in env


def test_known_secrets_are_dropped_wherever_they_appear() -> None:
    env = terminal_environ({"A": "x", "NOTE": "key is abcdefgh12345"}, known_secrets=["abcdefgh12345"])
    assert env == {"A": "x"}


def test_the_terminal_gets_the_policy(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    from agent.settings import TerminalSettings

    environment = LocalEnvironment(cwd=str(workdir), settings=TerminalSettings(env_passthrough=["GITHUB_TOKEN"]))
    try:
        out = environment.execute("env", timeout=30).output
    finally:
        environment.cleanup()
    assert "GITHUB_TOKEN=ghp_" in out and "EDITOR=vim" in out
    for secret in ("sk-live", "hunter22", "s3cretpw", JWT, "wJalrXUtnFEMI", "xoxb-"):
        assert secret not in out
