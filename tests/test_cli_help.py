"""`hermes --help` names every subcommand, one line each, straight from the registry in cli.py."""

from __future__ import annotations

import pytest

import cli
from hermes_cli.args import build_parser
from tests.conftest import run_hermes


def test_help_lists_every_subcommand_with_one_line() -> None:
    result = run_hermes("--help")

    assert result.returncode == 0, result.stderr
    for name in ("export", "replay", "batch"):
        lines = [line for line in result.stdout.splitlines() if line.strip().startswith(f"hermes {name} ")]
        assert len(lines) == 1, f"hermes {name} not listed once in --help:\n{result.stdout}"
        assert len(lines[0].split(None, 2)[2]) > 10  # a real summary, not just the name
    # each listed subcommand runs: its own --help answers
    for name in cli.SUBCOMMANDS:
        sub = run_hermes(name, "--help")
        assert sub.returncode == 0 and f"usage: hermes {name}" in sub.stdout, sub.stderr


def test_a_subcommand_added_to_the_registry_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.SUBCOMMANDS, "doctor", ("hermes_cli.doctor:main", "check this machine's set-up"))

    text = build_parser().format_help()

    assert "  hermes doctor  check this machine's set-up" in text
