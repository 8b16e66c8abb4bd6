"""Settings with a program's own values on top, e.g. the keyword arguments of `AIAgent(...)`."""

from __future__ import annotations

import copy
from typing import Any

from agent.errors import ConfigError
from agent.settings.loader import load_settings
from agent.settings.model import Settings
from agent.settings.schema import BY_KEY
from agent.settings.validate import Invalid, allowed, coerce


def with_overrides(settings: Settings | None, overrides: dict[str, Any], source: str = "AIAgent(...)") -> Settings:
    """`settings` (None: loaded as `hermes` would, without flags) with the non-None `overrides` applied,
    each checked like any other value. The given object is copied, never changed."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if settings is None:
        settings = load_settings({}, export_dotenv=False)
    elif given:
        settings = copy.deepcopy(settings)
    for key, value in given.items():
        spec = BY_KEY[key]
        try:
            settings.set(key, coerce(spec, value), source)
        except Invalid:
            name = key.rpartition(".")[2]
            raise ConfigError(f"{source.replace('...', f'{name}={value!r}')}: expected {allowed(spec)}") from None
    return settings
