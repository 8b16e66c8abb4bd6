"""The terminal settings a backend works with: the ones it was given, else the manager's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import TerminalSettings


def terminal_settings(given: TerminalSettings | None = None) -> TerminalSettings:
    """`given`, or the process's configured terminal settings (see manager.configure)."""
    if given is not None:
        return given
    from tools.environments.manager import current_settings  # late: manager imports the backends

    return current_settings()


def sudo_password() -> str | None:
    from tools.environments.sudo import current_password

    return current_password()
