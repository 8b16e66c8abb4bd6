"""/config: every effective setting, and where it came from (default, a file, an env var, a flag).

Secrets are masked: values of keys whose name looks secret, API keys, and any text containing the
value of a secret environment variable.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent.config import DEFAULTS, FREE_FORM, Config, terminal_env_name
from agent.endpoint import DEFAULT_MODELS, PLACEHOLDER_KEY, Endpoint
from agent.secrets import is_secret_name, secret_values

Row = tuple[str, str, str]  # (dotted key, value as shown, source)

# Flags that override a config key, by key.
_FLAGS = {
    "toolsets": ("toolsets", "--toolsets"),
    "disabled_toolsets": ("disabled_toolsets", "--disabled-toolsets"),
    "agent.max_turns": ("max_turns", "--max-turns"),
    "agent.personality": ("personality", "--personality"),
    "agent.system_prompt": ("system_prompt", "--system-prompt"),
}


def mask(value: str) -> str:
    """`sk-…abcd`: enough to recognise a key, not enough to use it."""
    if len(value) < 12:
        return "…" if value else value
    return f"{value[:3]}…{value[-4:]}"


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(str(k) for k in value) if value else "(none)"
    return str(value)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


def _key_source(endpoint: Endpoint, config: Config, env: dict[str, str]) -> str:
    if endpoint.api_key == PLACEHOLDER_KEY:
        return "none needed (placeholder)"
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        if env.get(name) == endpoint.api_key:
            return f"env {name}"
    if config.get("model.api_key") == endpoint.api_key:
        return config.sources.get("model.api_key", "config")
    return "flag --api-key"


def _model_source(endpoint: Endpoint, config: Config, env: dict[str, str], args: argparse.Namespace | None) -> str:
    if args is not None and getattr(args, "model", None) == endpoint.model and endpoint.model:
        return "flag --model"
    if endpoint.model and config.get("model.default") == endpoint.model:
        return config.sources.get("model.default", "config")
    if endpoint.model and env.get("LLM_MODEL") == endpoint.model:
        return "env LLM_MODEL"
    if endpoint.model is None:
        return "asked from the endpoint"
    if DEFAULT_MODELS.get(endpoint.base_url) == endpoint.model:
        return f"default for {endpoint.host}"
    return "flag --model" if args is None else "set in this session"


def _endpoint_rows(endpoint: Endpoint, config: Config, env: dict[str, str],
                   args: argparse.Namespace | None) -> list[Row]:
    url_source = endpoint.source
    if url_source == "config model.base_url":
        url_source = config.sources.get("model.base_url", url_source)
    elif url_source in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        url_source = f"env {url_source}" if url_source == "OPENAI_BASE_URL" else f"implied by env {url_source}"
    elif url_source == "--base-url":
        url_source = "flag --base-url"
    key = "(none)" if endpoint.api_key == PLACEHOLDER_KEY else mask(endpoint.api_key)
    return [
        ("model.default", endpoint.model or "(asked from the endpoint)", _model_source(endpoint, config, env, args)),
        ("model.base_url", endpoint.base_url, url_source),
        ("model.api_key", key, _key_source(endpoint, config, env)),
    ]


def _source(dotted: str, config: Config, env: dict[str, str], args: argparse.Namespace | None) -> tuple[str, Any]:
    """Where the effective value of `dotted` came from, and that value when it is not the config's."""
    flag = _FLAGS.get(dotted)
    if args is not None and flag is not None and getattr(args, flag[0], None) is not None:
        return f"flag {flag[1]}", getattr(args, flag[0])
    section, _, key = dotted.partition(".")
    if section == "terminal" and (env_name := terminal_env_name(key)) and env_name in env:
        if dotted not in config.sources or str(config.get(dotted)) != env[env_name]:
            return f"env {env_name}", env[env_name]
    if dotted in config.sources:
        return config.sources[dotted], config.get(dotted)
    return "default", config.get(dotted)


def _switch_flags(args: argparse.Namespace | None) -> dict[str, tuple[str, str]]:
    """Settings that on/off flags override: key -> (value as shown, flag)."""
    if args is None:
        return {}
    switches = {"agent.stream": ("no_stream", "off", "--no-stream"), "agent.token_capture": ("rollout", "on", "--rollout"),
                "approvals.mode": ("yolo", "yolo (no asking)", "--yolo")}
    return {key: (shown, f"flag {flag}") for key, (attr, shown, flag) in switches.items() if getattr(args, attr, False)}


def format_config(config: Config, endpoint: Endpoint, args: argparse.Namespace | None = None,
                  environ: dict[str, str] | None = None) -> list[Row]:
    """(key, value, source) for every effective setting, secrets masked. `args` adds flag overrides."""
    env = dict(os.environ if environ is None else environ)
    secrets = secret_values(env)
    if endpoint.api_key != PLACEHOLDER_KEY:
        secrets = sorted({*secrets, endpoint.api_key}, key=len, reverse=True)
    rows = _endpoint_rows(endpoint, config, env, args)
    switched = _switch_flags(args)
    for section, default in DEFAULTS.items():
        if section == "model":
            continue  # shown as the endpoint actually in use, above
        if isinstance(default, dict) and section not in FREE_FORM:
            value = config.values.get(section) or {}
            dotted_keys = [f"{section}.{key}" for key in [*default, *(k for k in value if k not in default)]]
        else:
            dotted_keys = [section]
        for dotted in dotted_keys:
            if dotted in switched:
                rows.append((dotted, *switched[dotted]))
                continue
            source, value = _source(dotted, config, env, args)
            secret = isinstance(value, str) and value and is_secret_name(dotted.rpartition(".")[2])
            rows.append((dotted, _scrub(mask(value) if secret else _show(value), secrets), source))
    return rows
