"""Configuration: defaults < $HERMES_HOME/config.yaml < ./cli-config.yaml, plus .env files for secrets.

A malformed file is reported as one line naming the file and line; unknown keys are warned about
with their file. Each effective value remembers which file set it (for /config).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from recording.paths import hermes_home

DEFAULTS: dict[str, Any] = {
    "model": {"default": None, "base_url": None, "api_key": None},
    "toolsets": ["all"],
    "disabled_toolsets": [],
    "custom_toolsets": {},
    "agent": {
        "max_turns": 60,
        "system_prompt": None,
        "personality": None,
        "personalities": {},
        "stream": True,
        "token_capture": False,
    },
    "terminal": {"backend": "local", "cwd": None, "timeout": 60},
    "display": {"spinner": True, "show_reasoning": True, "verbose": False},
    "approvals": {"mode": "ask", "allowlist": []},
}

# Config keys that are bridged to the environment variables the terminal backends read.
_TERMINAL_ENV = {"backend": "TERMINAL_ENV", "cwd": "TERMINAL_CWD", "timeout": "TERMINAL_TIMEOUT"}


@dataclass
class Config:
    values: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    sources: dict[str, str] = field(default_factory=dict)  # "model.default" -> file it came from
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def config_paths(cwd: Path | None = None) -> list[Path]:
    return [hermes_home() / "config.yaml", (cwd or Path.cwd()) / "cli-config.yaml"]


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # only paid for when a config file exists

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, not {type(data).__name__}")
    return data


def _key_line(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return None


def _merge(config: Config, data: dict[str, Any], path: Path) -> None:
    if isinstance(data.get("model"), str):  # `model: name` is shorthand for model.default
        data = dict(data, model={"default": data["model"]})
    for key, value in data.items():
        if key not in DEFAULTS:
            line = _key_line(path, key)
            config.warnings.append(f"{path}{f':{line}' if line else ''}: unknown key '{key}' ignored")
            continue
        target = config.values[key]
        if isinstance(target, dict) and isinstance(value, dict):
            for sub, sub_value in value.items():
                target[sub] = sub_value
                config.sources[f"{key}.{sub}"] = str(path)
        elif isinstance(target, dict) and value is not None:
            raise ConfigError(f"{path}:{_key_line(path, key) or '?'}: '{key}' must be a mapping")
        else:
            config.values[key] = value
            config.sources[key] = str(path)


def load_config(cwd: Path | None = None, paths: list[Path] | None = None) -> Config:
    config = Config()
    for path in paths if paths is not None else config_paths(cwd):
        if path.is_file():
            _merge(config, _read_yaml(path), path)
            config.files.append(path)
    return config


def load_dotenv_files(cwd: Path | None = None) -> list[Path]:
    """Secrets from $HERMES_HOME/.env and ./.env; variables already set in the environment win."""
    loaded = []
    for path in (hermes_home() / ".env", (cwd or Path.cwd()) / ".env"):
        if path.is_file():
            from dotenv import load_dotenv

            load_dotenv(path, override=False)
            loaded.append(path)
    return loaded


def apply_terminal_env(config: Config) -> None:
    """The terminal backends read TERMINAL_*; config fills in what the environment leaves unset."""
    for key, env_name in _TERMINAL_ENV.items():
        value = config.get(f"terminal.{key}")
        if value is not None and env_name not in os.environ and f"terminal.{key}" in config.sources:
            os.environ[env_name] = str(value)
