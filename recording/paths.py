"""Where sessions are logged, and how they are named."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path


def hermes_home() -> Path:
    """$HERMES_HOME (default ~/.hermes), as the settings read it."""
    from agent.settings.loader import hermes_home as settings_home

    return settings_home()


def log_dir() -> Path:
    """HERMES_LOG_DIR, else logs/ beside the launcher in a checkout, else $HERMES_HOME/logs."""
    from agent.settings.loader import log_dir as settings_log_dir

    return settings_log_dir()


def new_session_id(now: datetime | None = None) -> str:
    """YYYYMMDD_HHMMSS_<6 hex>: sortable by time, unique enough for parallel runs."""
    return f"{(now or datetime.now()).strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(3)}"


def event_log_path(directory: Path, session_id: str) -> Path:
    return directory / f"session_{session_id}.jsonl"


def session_file_path(directory: Path, session_id: str) -> Path:
    return directory / f"session_{session_id}.json"
