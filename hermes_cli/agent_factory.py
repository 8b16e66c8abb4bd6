"""Turn flags + config + environment into an AIAgent. Shared by one-shot, REPL and batch."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import toolsets
from agent.config import Config, apply_terminal_env, load_config, load_dotenv_files
from agent.errors import ConfigError
from agent.events import Event
from agent.personalities import personality_names, resolve_personality


@dataclass
class Settings:
    """Everything needed to build an agent, resolved once and checked before any model call."""

    config: Config
    enabled_toolsets: list[str] | None
    disabled_toolsets: list[str] | None
    personality: str | None
    max_turns: int


def load_settings(args: argparse.Namespace, config: Config | None = None) -> Settings:
    """`config` given (e.g. defaults after a broken file) is used instead of reading the files."""
    load_dotenv_files()
    config = load_config() if config is None else config
    apply_terminal_env(config)
    if warning := configure_sandbox(args):
        config.warnings.append(warning)
    for name, definition in (config.get("custom_toolsets") or {}).items():
        if not isinstance(definition, dict):
            raise ConfigError(f"custom_toolsets.{name} must be a mapping with tools/includes")
        try:
            toolsets.create_custom_toolset(
                name, definition.get("description", ""), definition.get("tools"), definition.get("includes")
            )
        except toolsets.UnknownToolsetError as exc:
            raise ConfigError(f"custom_toolsets.{name}: {exc}") from None
    try:
        enabled = toolsets.parse_toolset_list(args.toolsets or config.get("toolsets"))
        disabled = toolsets.parse_toolset_list(args.disabled_toolsets or config.get("disabled_toolsets") or None)
    except toolsets.UnknownToolsetError as exc:
        raise ConfigError(str(exc)) from None
    custom = config.get("agent.personalities") or {}
    name = args.personality if args.personality is not None else config.get("agent.personality")
    try:
        personality = resolve_personality(name, custom)
    except KeyError:
        close = difflib.get_close_matches(str(name), personality_names(custom), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown personality '{name}'{hint}; choose from {', '.join(personality_names(custom))}") from None
    max_turns = args.max_turns or int(config.get("agent.max_turns") or 60)
    return Settings(config, enabled, disabled, personality, max_turns)


def configure_sandbox(args: argparse.Namespace) -> str | None:
    """--sandbox for the local backend's environments (after the settings merge: terminal.sandbox,
    terminal.sandbox_network and terminal.env_passthrough go here too). Returns a warning when a
    sandbox was asked for explicitly and cannot work here (the default falls back silently in -p;
    the banner of the REPL and -q says so either way)."""
    from tools.environments import manager
    from tools.environments.sandbox import OFF, SandboxSettings, parse_mode, probe

    if not getattr(args, "sandbox", None):
        return None
    settings = SandboxSettings(mode=parse_mode(args.sandbox))
    manager.configure_sandbox(settings)
    if settings.mode != OFF and (problem := probe()) is not None:
        return f"--sandbox {settings.mode}: {problem}; commands run unconfined"
    return None


def safety_line(agent: Any) -> str:
    """One banner line: the approval mode and what confines the model's commands."""
    from tools.environments import manager
    from tools.environments.sandbox import status_line
    from tools.gate import mode_of

    backend = manager.current_config().backend
    return f"approvals {mode_of(agent.tool_context)} · sandbox {status_line(manager.sandbox_settings(), backend)}"


def resolve_resume(args: argparse.Namespace, directory: Path | None = None) -> Path | None:
    """The session log `--resume ID_OR_PREFIX` / `--continue` name, or None; ConfigError if there is none."""
    from recording.paths import log_dir
    from recording.reader import find_session, latest_session

    directory = directory or log_dir()
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


def _number(config: Config, key: str, kind: type, most: float | None = None) -> Any:
    value = config.get(key)
    where = config.sources.get(key, "config")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: '{key}' must be a number, not {value!r}") from None
    if number <= 0 or (most is not None and number > most):
        limit = f"above 0 and at most {most}" if most is not None else "above 0"
        raise ConfigError(f"{where}: '{key}' must be {limit}, not {value!r}")
    return number


def make_agent(
    args: argparse.Namespace,
    settings: Settings,
    *,
    mode: str,
    on_event: Callable[[Event], None] | None = None,
    approve: Callable[[str, str], bool] | None = None,
    resume: Path | None = None,
    **overrides: Any,
):
    """An AIAgent from flags and settings; `resume` continues that session log (see resolve_resume)."""
    from agent.endpoint import resolve_endpoint
    from run_agent import AIAgent

    config = settings.config
    endpoint = resolve_endpoint(args.base_url, args.api_key, args.model, config_model=config.get("model"))
    return AIAgent(
        model=endpoint.model,
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        enabled_toolsets=settings.enabled_toolsets,
        disabled_toolsets=settings.disabled_toolsets,
        max_turns=settings.max_turns,
        system_prompt=args.system_prompt or config.get("agent.system_prompt"),
        personality=settings.personality,
        ephemeral_system_prompt=args.ephemeral_system_prompt,
        stream=not args.no_stream and bool(config.get("agent.stream", True)),
        token_capture=args.rollout or bool(config.get("agent.token_capture")),
        on_event=on_event,
        approve=approve,
        yolo=args.yolo,
        mode=mode,
        resume=resume,
        context_window=_number(config, "agent.context_window", int),
        compress_threshold=_number(config, "agent.compress_threshold", float, most=1.0),
        **overrides,
    )
