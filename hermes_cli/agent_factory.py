"""The one construction path: settings (flags + config + environment) -> endpoint -> AIAgent.

Used by one-shot runs, the REPL and batch; the Python API (`AIAgent(...)`) reaches the same
settings through `agent.settings.load_settings` itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError
from agent.events import Event
from agent.settings import Settings
from agent.settings import load_settings as _load

if TYPE_CHECKING:
    from agent.endpoint import Endpoint


def load_settings(args: argparse.Namespace | dict[str, Any] | None) -> Settings:
    """Settings for this process; ConfigError (exit 2) lists every invalid value, one per line.
    Configured MCP servers start now, in the background, and the process's hooks are set."""
    from agent import extensions

    settings = _load(args)
    if warning := sandbox_warning(settings):
        settings.warnings.append(warning)
    extensions.configure(settings)
    return settings


def sandbox_warning(settings: Settings) -> str | None:
    """One line when terminal.sandbox was set explicitly (config, variable, --sandbox) and cannot work
    here; the default falls back silently in -p (the banner of the REPL and -q says so either way)."""
    from tools.environments.sandbox import OFF, probe

    mode = settings.terminal.sandbox
    source = settings.source("terminal.sandbox")
    if mode == OFF or source == "default" or settings.terminal.backend != "local":
        return None
    if (problem := probe()) is not None:
        what = source.removeprefix("flag ") if source.startswith("flag ") else f"terminal.sandbox ({source})"
        return f"{what} {mode}: {problem}; commands run unconfined"
    return None


def safety_line(agent: Any) -> str:
    """One banner line: the approval mode and what confines the model's commands."""
    from tools.environments import manager
    from tools.environments.sandbox import status_line
    from tools.gate import mode_of

    terminal = agent.tool_context.terminal or manager.current_settings()
    return f"approvals {mode_of(agent.tool_context)} · sandbox {status_line(terminal, terminal.backend)}"


def resolve_resume(args: argparse.Namespace, directory: Path) -> Path | None:
    """The session log `--resume ID_OR_PREFIX` / `--continue` name, or None; ConfigError if there is none."""
    from recording.reader import find_session, latest_session

    if getattr(args, "resume", None):
        try:
            return find_session(directory, args.resume)
        except ValueError as exc:
            raise ConfigError(f"--resume: {exc}") from None
    if getattr(args, "continue_", False):
        path = latest_session(directory)
        if path is None:
            raise ConfigError(f"--continue: no earlier session in {directory}")
        return path
    return None


def make_agent(
    settings: Settings,
    *,
    mode: str,
    endpoint: Endpoint | None = None,
    on_event: Callable[[Event], None] | None = None,
    approve: Callable[[str, str], bool] | None = None,
    resume: Path | None = None,
    ephemeral_system_prompt: str | None = None,
    **extra: Any,
):
    """An AIAgent from settings; `endpoint` resolved once by the caller (else here); `resume` continues
    that session log (see resolve_resume). `extra`: per-agent arguments such as task_id or client."""
    from agent import extensions
    from agent.endpoint import resolve_endpoint
    from run_agent import AIAgent

    extensions.configure(settings)  # settings loaded elsewhere (a batch runner's): their MCP servers too

    agent = AIAgent(
        settings=settings,
        endpoint=endpoint or resolve_endpoint(settings),
        ephemeral_system_prompt=ephemeral_system_prompt,
        on_event=on_event,
        approve=approve,
        mode=mode,
        resume=resume,
        **extra,
    )
    if resume is not None:  # the model's task list as the session left it (tools/todo_tool.py)
        from tools.todo_tool import restore

        restore(agent.tool_context, agent.messages)
    return agent


def load_images(paths: list[str]) -> list[Any]:
    """`--image` files (relative to the current directory) read and checked (agent/images.py);
    ConfigError (exit 2) names the bad one."""
    from agent.images import ImageError, load_image

    try:
        return [load_image(path) for path in paths]
    except ImageError as exc:
        raise ConfigError(f"--image: {exc}") from None
