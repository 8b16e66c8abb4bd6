"""Tool tests run real bash and real files under tmp_path; every environment is cleaned up after a test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import model_tools
from tools.environments import manager
from tools.registry import REGISTRY, ToolContext


@pytest.fixture(autouse=True)
def terminal_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Start every task's terminal in tmp_path and kill whatever a test left behind."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.setenv("TERMINAL_CWD", str(workdir))
    yield workdir
    manager.cleanup_all()


@pytest.fixture
def workdir(terminal_sandbox: Path) -> Path:
    return terminal_sandbox


@pytest.fixture
def run_tool() -> Callable[..., dict[str, Any]]:
    """run_tool(name, args, task_id="t", **ctx_fields) -> the parsed JSON result of the handler.

    File edits run in `auto-edit` mode unless a test passes another `approval_mode` (tests/tools are
    about what the tools do; tests/tools/test_gate*.py are about asking)."""
    model_tools.load_tools()

    def run(name: str, args: dict[str, Any], task_id: str = "t", **ctx_fields: Any) -> dict[str, Any]:
        ctx_fields.setdefault("approval_mode", "auto-edit")
        result = REGISTRY[name].handler(args, ToolContext(task_id=task_id, **ctx_fields))
        assert isinstance(result, str)
        return json.loads(result)

    return run
