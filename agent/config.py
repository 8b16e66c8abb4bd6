"""Configuration: defaults < $HERMES_HOME/config.yaml < ./cli-config.yaml, plus .env files for secrets.

A malformed file is reported as one line naming the file and line; unknown keys, top-level or
nested (`agent.max_turn`), are warned about with file, line and a did-you-mean. Each effective value
remembers which file set it (for /config). `save_config_value` writes one setting back.
"""

from __future__ import annotations

import copy
import difflib
import os
import tempfile
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
        "context_window": 128_000,  # tokens; compression starts at compress_threshold of it
        "compress_threshold": 0.8,
    },
    "terminal": {"backend": "local", "cwd": None, "timeout": 60},
    "display": {"spinner": True, "show_reasoning": True, "verbose": False},
    "approvals": {"mode": "ask", "allowlist": []},
    "batch": {"distributions": {}},  # name -> {toolset: percent}, beside toolset_distributions.py's
    # Issue 17, validated into dataclasses by mcp_client/config.py and agent/hooks_config.py:
    "mcp_servers": {},  # name -> {command, args, env, cwd | url, headers, bearer_token_env_var, ...}
    "hooks": {},  # event -> [{matcher, hooks: [{type: command, command, timeout}]}]
}

# Sections whose keys are names the user chooses, so no key in them is "unknown".
FREE_FORM = {"custom_toolsets", "agent.personalities", "batch.distributions", "mcp_servers", "hooks"}
# Accepted without a default: `env_type` is the seed's name for `backend`; the rest configure
# terminal backends that read them from TERMINAL_* variables.
EXTRA_KEYS = {
    "terminal": {"env_type", "docker_image", "singularity_image", "ssh_host", "ssh_user", "ssh_port", "ssh_key",
                 "modal_image", "lifetime_seconds",
                 # terminal backends (issue 5): see README "Terminal backends"
                 "docker_memory", "docker_cpus", "docker_pids_limit", "docker_network", "docker_workdir",
                 "docker_mount_cwd", "docker_forward_env", "docker_start_timeout",
                 "ssh_host_key_policy", "ssh_known_hosts", "ssh_cwd", "ssh_connect_timeout",
                 "singularity_bin", "singularity_overlay", "singularity_cache", "singularity_cwd",
                 "modal_app", "modal_profile", "modal_profiles_file", "modal_connect_timeout",
                 "max_output_chars"},
}

# Config keys that are bridged to the environment variables the terminal backends read.
_TERMINAL_ENV = {
    "backend": "TERMINAL_ENV", "env_type": "TERMINAL_ENV", "cwd": "TERMINAL_CWD", "timeout": "TERMINAL_TIMEOUT",
    "docker_image": "TERMINAL_DOCKER_IMAGE", "singularity_image": "TERMINAL_SINGULARITY_IMAGE",
    "ssh_host": "TERMINAL_SSH_HOST", "ssh_user": "TERMINAL_SSH_USER", "ssh_port": "TERMINAL_SSH_PORT",
    "ssh_key": "TERMINAL_SSH_KEY", "modal_image": "TERMINAL_MODAL_IMAGE",
    "lifetime_seconds": "TERMINAL_LIFETIME_SECONDS",
    **{key: f"TERMINAL_{key.upper()}" for key in (
        "docker_memory", "docker_cpus", "docker_pids_limit", "docker_network", "docker_workdir",
        "docker_mount_cwd", "docker_forward_env", "docker_start_timeout",
        "ssh_host_key_policy", "ssh_known_hosts", "ssh_cwd", "ssh_connect_timeout",
        "singularity_bin", "singularity_overlay", "singularity_cache", "singularity_cwd",
        "modal_app", "modal_profile", "modal_profiles_file", "modal_connect_timeout", "max_output_chars")},
}


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


def _key_lines(path: Path) -> dict[str, int]:
    """1-based line of each top-level and second-level key ("agent.max_turns"), from the YAML nodes."""
    import yaml

    lines: dict[str, int] = {}
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
        if isinstance(value_node, yaml.MappingNode):
            for sub_node, _ in value_node.value:
                lines.setdefault(f"{key_node.value}.{sub_node.value}", sub_node.start_mark.line + 1)
    return lines


def known_keys(section: str | None = None) -> list[str]:
    """Keys valid at the top level, or inside `section`."""
    if section is None:
        return list(DEFAULTS)
    default = DEFAULTS.get(section)
    return [*(default if isinstance(default, dict) else {}), *sorted(EXTRA_KEYS.get(section, ()))]


def _unknown(path: Path, dotted: str, choices: list[str], lines: dict[str, int]) -> str:
    line = lines.get(dotted)
    prefix, _, key = dotted.rpartition(".")
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    hint = f" (did you mean '{f'{prefix}.' if prefix else ''}{close[0]}'?)" if close else ""
    return f"{path}{f':{line}' if line else ''}: unknown key '{dotted}' ignored{hint}"


def _merge(config: Config, data: dict[str, Any], path: Path) -> None:
    if isinstance(data.get("model"), str):  # `model: name` is shorthand for model.default
        data = dict(data, model={"default": data["model"]})
    lines: dict[str, int] | None = None  # parsed again for positions only when something is wrong

    def where() -> dict[str, int]:
        nonlocal lines
        if lines is None:
            lines = _key_lines(path)
        return lines

    for key, value in data.items():
        key = str(key)
        if key not in DEFAULTS:
            config.warnings.append(_unknown(path, key, known_keys(), where()))
            continue
        target = config.values[key]
        if isinstance(target, dict) and isinstance(value, dict):
            allowed = None if key in FREE_FORM else known_keys(key)
            for sub, sub_value in value.items():
                sub = str(sub)
                if allowed is not None and sub not in allowed:
                    config.warnings.append(_unknown(path, f"{key}.{sub}", allowed, where()))
                    continue
                if f"{key}.{sub}" in FREE_FORM and not isinstance(sub_value, dict | type(None)):
                    raise ConfigError(f"{path}:{where().get(f'{key}.{sub}', '?')}: '{key}.{sub}' must be a mapping")
                target[sub] = sub_value
                config.sources[f"{key}.{sub}"] = str(path)
        elif isinstance(target, dict) and value is not None:
            raise ConfigError(f"{path}:{where().get(key, '?')}: '{key}' must be a mapping")
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


def terminal_env_name(key: str) -> str | None:
    """The TERMINAL_* variable a `terminal.<key>` setting is bridged to (for /config)."""
    return _TERMINAL_ENV.get(key)


def user_config_path() -> Path:
    return hermes_home() / "config.yaml"


def save_config_value(dotted_key: str, value: Any, path: Path | None = None) -> Path:
    """Set one setting in $HERMES_HOME/config.yaml, keeping the others; atomic (temp file + rename).

    The file is re-serialised by PyYAML, so comments and formatting in it are lost; settings are not.
    A file that does not parse is left alone (ConfigError) rather than overwritten.
    """
    import yaml

    path = path or user_config_path()
    data = _read_yaml(path) if path.is_file() else {}
    if isinstance(data.get("model"), str):  # expand the shorthand before setting model.*
        data["model"] = {"default": data["model"]}
    node = data
    *parents, leaf = dotted_key.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True, default_flow_style=False)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
