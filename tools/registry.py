"""The tool registry: every tool is data (name, toolset, JSON schema, handler, requirement check)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass
class ToolContext:
    """What a handler may need besides its arguments.

    `approve(subject, reason)` asks the user about a side effect (tools/gate.py); `None` means nobody
    can be asked (one-shot, batch), so what would ask is denied unless the mode allows it.
    `approval_mode` is the configured `approvals.mode` (read-only | ask | auto-edit | yolo);
    `yolo=True` (/yolo) means yolo. `terminal` is the terminal settings the task's environment is
    created with (None: the configured ones).
    """

    task_id: str = "default"
    interrupt: threading.Event | None = None
    approve: Callable[[str, str], bool] | None = None
    yolo: bool = False
    approval_mode: str = "ask"
    terminal: Any = None  # agent.settings.TerminalSettings
    checkpoints: Any = None  # agent.checkpoints.Checkpoints: file changes are saved first, for /rewind
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[dict[str, Any], ToolContext], str]


@dataclass(frozen=True)
class Tool:
    name: str
    toolset: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    # Returns None when the tool can run here, else a one-line reason ("needs FIRECRAWL_API_KEY").
    check: Callable[[], str | None] | None = None
    # False: a tool that may change things and has no gate of its own (e.g. an MCP tool not marked
    # read-only): every call goes through the approval gate (tools/gate.py) as a generic tool call.
    # None: the tool is read-only or gates its own side effects (terminal, write_file, patch).
    read_only: bool | None = None
    # True: in-process work on this machine's files or memory, done in well under a millisecond or
    # two when the task's files are local: no process, network or person to wait for. The asyncio
    # batch driver runs such a call on its loop thread instead of handing it to a worker thread.
    quick: bool = False

    def schema(self) -> dict[str, Any]:
        """The OpenAI schema: one dict per tool, shared by every agent that has the tool, so texts
        made from a list of schemas are made once per list (agent/tools_json.py). Never change it
        in place."""
        return self._schema

    @cached_property
    def _schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def unavailable_reason(self) -> str | None:
        return self.check() if self.check else None


REGISTRY: dict[str, Tool] = {}


def register(tool: Tool) -> Tool:
    REGISTRY[tool.name] = tool
    return tool


def tool_result(**fields: Any) -> str:
    """Every handler returns a JSON string; this keeps the encoding identical everywhere."""
    return json.dumps(fields, ensure_ascii=False)


def tool_error(message: str, **fields: Any) -> str:
    return json.dumps({"error": message, **fields}, ensure_ascii=False)
