"""Fixtures for MCP tests: the demo server script, config writing, and reading what the model got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.extensions.servers import write_stdio_server


@pytest.fixture
def demo_script(tmp_path: Path) -> Path:
    return write_stdio_server(tmp_path)


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "received.jsonl"


@pytest.fixture
def write_config(hermetic_env: Path):
    def write(**sections) -> Path:
        path = hermetic_env / "config.yaml"
        path.write_text(yaml.safe_dump(sections, sort_keys=False), encoding="utf-8")
        return path

    return write


def tool_results(request) -> dict[str, str]:
    """tool_call_id -> content of the tool messages in one chat request the scripted model received."""
    return {m["tool_call_id"]: m["content"] for m in request.body["messages"] if m["role"] == "tool"}


def tool_result(request, call_id: str) -> dict:
    return json.loads(tool_results(request)[call_id])
