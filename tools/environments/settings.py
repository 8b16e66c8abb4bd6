"""Reading TERMINAL_* settings: one clear BackendUnavailable line for a bad value, never a traceback."""

from __future__ import annotations

import os


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable  # late: manager imports the backends

    return BackendUnavailable(message)


def env_str(name: str, default: str = "") -> str:
    return (os.environ.get(name) or "").strip() or default


def env_float(name: str, default: float | None) -> float | None:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise _unavailable(f"{name}={raw!r} is not a number") from None


def env_int(name: str, default: int | None) -> int | None:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _unavailable(f"{name}={raw!r} is not a whole number") from None


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise _unavailable(f"{name}={raw!r} must be true or false")


def env_list(name: str) -> list[str]:
    """Comma/space separated; a YAML list bridged from config arrives as "['A', 'B']" and works too."""
    raw = env_str(name).translate(str.maketrans(",[]'\"", "     "))
    return raw.split()


def sudo_password() -> str | None:
    from tools.environments.sudo import current_password

    return current_password()
