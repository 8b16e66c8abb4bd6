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
    extensions.configure(settings)
    return settings


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

    return AIAgent(
        settings=settings,
        endpoint=endpoint or resolve_endpoint(settings),
        ephemeral_system_prompt=ephemeral_system_prompt,
        on_event=on_event,
        approve=approve,
        mode=mode,
        resume=resume,
        **extra,
    )
