"""The settings tools work with: the ones the agent's construction path configured for this process,
else those the environment alone gives (a tool used on its own, as in tests), read each time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import Settings
    from agent.settings.schema import BrowserSettings, WebSettings

_configured: Settings | None = None


def configure(settings: Settings | None) -> None:
    """This process's settings for every tool, the terminal backends included (None: from the environment)."""
    global _configured
    from tools.environments import manager

    _configured = settings
    manager.configure(settings.terminal if settings is not None else None)


def current() -> Settings:
    if _configured is not None:
        return _configured
    from agent.settings import default_settings

    return default_settings()


def web() -> WebSettings:
    return current().web


def browser() -> BrowserSettings:
    return current().browser
