"""Typed configuration, read and validated in one place, then passed down explicitly.

    schema.py   the settings (one `Field` each) and the typed sections they fill
    sources.py  reading config files, .env files, the environment and flags, with provenance
    validate.py types, ranges and choices of single values
    checks.py   toolset, tool, personality and distribution names
    model.py    `Settings`, with `get`, `set` (REPL commands) and the source of every value
    loader.py   `load_settings`: the only code that reads the environment for configuration
    overrides.py `with_overrides`: a program's own values on top (AIAgent keyword arguments)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.settings.loader import default_settings, hermes_home, load_settings, log_dir
from agent.settings.model import Settings
from agent.settings.overrides import with_overrides
from agent.settings.schema import TerminalSettings

if TYPE_CHECKING:
    from agent.retry import RetryPolicy

__all__ = ["Settings", "TerminalSettings", "default_settings", "hermes_home", "load_settings", "log_dir",
           "retry_policy", "with_overrides"]


def retry_policy(settings: Settings) -> RetryPolicy:
    """The LLM retry policy: model.max_retries, model.retry_base_delay, model.request_deadline and
    model.stall_timeout (the connect timeout keeps its default)."""
    from agent.retry import RetryPolicy

    model = settings.model
    tuned = "model.retry_base_delay" in settings.sources  # a chosen base delay scales the cap with it
    return RetryPolicy(
        max_attempts=model.max_retries + 1,
        base_delay=model.retry_base_delay,
        max_delay=max(model.retry_base_delay * 8, 0.01) if tuned else RetryPolicy.max_delay,
        deadline=model.request_deadline,
        stall_timeout=model.stall_timeout,
    )
