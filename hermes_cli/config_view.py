"""/config: every effective setting, and where it came from (default, a file and line, an env var, a
flag, a REPL command such as /model).

Secrets are masked: values of keys whose name looks secret, API keys, and any text containing the
value of a secret environment variable.
"""

from __future__ import annotations

from typing import Any

from agent.endpoint import DEFAULT_MODELS, PLACEHOLDER_KEY, Endpoint
from agent.secrets import is_secret_name
from agent.settings import Settings
from agent.settings.schema import FIELDS, FREE_FORM

Row = tuple[str, str, str]  # (dotted key, value as shown, source)
_ENDPOINT_KEYS = ("model.default", "model.base_url", "model.api_key")


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
    if isinstance(value, float):
        return f"{value:g}"
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


def _endpoint_rows(settings: Settings, endpoint: Endpoint, model: str | None) -> list[Row]:
    if settings.model.default is not None:
        model_source = settings.source("model.default")
    elif model is None:
        model_source = "asked from the endpoint"
    elif DEFAULT_MODELS.get(endpoint.base_url) == model:
        model_source = f"default for {endpoint.host}"
    else:
        model_source = "asked from the endpoint"
    if endpoint.api_key == PLACEHOLDER_KEY:
        key, key_source = "(none)", "none needed (placeholder)"
    elif settings.model.api_key == endpoint.api_key:
        key, key_source = mask(endpoint.api_key), settings.source("model.api_key")
    else:
        key, key_source = mask(endpoint.api_key), "env OPENROUTER_API_KEY"
    return [
        ("model.default", model or "(asked from the endpoint)", model_source),
        ("model.base_url", endpoint.base_url, endpoint.source),
        ("model.api_key", key, key_source),
    ]


def format_config(settings: Settings, endpoint: Endpoint, model: str | None = None) -> list[Row]:
    """(key, value, source) for every live setting, secrets masked. `model`: the one in use now."""
    secrets = list(settings.secrets)
    if endpoint.api_key != PLACEHOLDER_KEY:
        secrets = sorted({*secrets, endpoint.api_key}, key=len, reverse=True)
    rows = _endpoint_rows(settings, endpoint, model if model is not None else endpoint.model)
    for spec in FIELDS:
        if spec.key in _ENDPOINT_KEYS:
            continue
        value = settings.get(spec.key)
        if spec.key in FREE_FORM and isinstance(value, dict):
            shown = _show(list(value))
        elif isinstance(value, str) and value and (spec.secret or is_secret_name(spec.key.rpartition(".")[2])):
            shown = mask(value)
        else:
            shown = _show(value)
        rows.append((spec.key, _scrub(shown, secrets), settings.source(spec.key)))
    return rows
