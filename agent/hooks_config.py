"""`hooks:` in config.yaml -> typed HookGroup lists, in Claude Code's shape:

    hooks:
      PreToolUse:
        - matcher: "terminal|write_file"      # regex on the tool name; "" or "*" or none: every tool
          hooks:
            - {type: command, command: "~/bin/guard.sh", timeout: 30}
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigError
from agent.yaml_lines import where

EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "PreCompact")
TOOL_EVENTS = {"PreToolUse", "PostToolUse"}
DEFAULT_TIMEOUT = 60.0  # seconds, as in Claude Code


@dataclass(frozen=True)
class HookCommand:
    command: str
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class HookGroup:
    event: str
    matcher: str  # "" matches everything
    hooks: tuple[HookCommand, ...]

    def matches(self, subject: str | None) -> bool:
        """Tool events match the tool name; SessionStart its source, PreCompact its trigger."""
        if self.matcher in ("", "*") or subject is None:
            return True
        return re.fullmatch(self.matcher, subject) is not None


def parse_hooks(raw: Any, source: str | None = None) -> dict[str, list[HookGroup]]:
    """Validate the `hooks` mapping; ConfigError names the file, line and what to change."""
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where(source, 'hooks')}: 'hooks' must map event names ({', '.join(EVENTS)}) to lists")
    parsed: dict[str, list[HookGroup]] = {}
    for event, groups in raw.items():
        event = str(event)
        if event not in EVENTS:
            close = difflib.get_close_matches(event, EVENTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where(source, 'hooks', event)}: unknown hook event '{event}'{hint}; "
                              f"known: {', '.join(EVENTS)}")
        if not isinstance(groups, list):
            raise ConfigError(f"{where(source, 'hooks', event)}: hooks.{event} must be a list of "
                              "{matcher, hooks: [{type: command, command}]}")
        parsed[event] = [_group(event, i, g, source) for i, g in enumerate(groups)]
    return parsed


def _group(event: str, index: int, group: Any, source: str | None) -> HookGroup:
    def fail(message: str, *keys: str | int) -> ConfigError:
        return ConfigError(f"{where(source, 'hooks', event, index, *keys)}: hooks.{event}[{index}]: {message}")

    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        raise fail("needs `hooks:` a list of {type: command, command: ...}")
    matcher = group.get("matcher") or ""
    if not isinstance(matcher, str):
        raise fail("`matcher` must be a string (a regex such as \"terminal|write_file\")", "matcher")
    try:
        re.compile(matcher if matcher != "*" else "")
    except re.error as exc:
        raise fail(f"`matcher` is not a valid regular expression: {exc}", "matcher") from None
    commands = []
    for j, hook in enumerate(group["hooks"]):
        if not isinstance(hook, dict):
            raise fail("each hook must be a mapping {type: command, command: ...}", "hooks", j)
        kind = hook.get("type", "command")
        if kind != "command":
            raise fail(f"hook type {kind!r} is not supported; use type: command", "hooks", j)
        command = hook.get("command")
        if not isinstance(command, str) or not command.strip():
            raise fail("needs `command`: the shell command to run", "hooks", j)
        timeout = hook.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise fail(f"`timeout` must be a number of seconds above 0, not {timeout!r}", "hooks", j)
        commands.append(HookCommand(command, float(timeout)))
    return HookGroup(event, matcher, tuple(commands))
