"""Where sessions are logged, and how they are named."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def hermes_home() -> Path:
    return Path(os.environ.get("HERMES_HOME") or Path.home() / ".hermes").expanduser()


def log_dir() -> Path:
    """HERMES_LOG_DIR, else logs/ beside the launcher in a checkout, else $HERMES_HOME/logs."""
    if env := os.environ.get("HERMES_LOG_DIR"):
        return Path(env).expanduser()
    if (CHECKOUT_ROOT / "hermes").is_file() and (CHECKOUT_ROOT / "logs").is_dir():
        return CHECKOUT_ROOT / "logs"
    return hermes_home() / "logs"


def new_session_id(now: datetime | None = None) -> str:
    """YYYYMMDD_HHMMSS_<6 hex>: sortable by time, unique enough for parallel runs."""
    return f"{(now or datetime.now()).strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(3)}"


def event_log_path(directory: Path, session_id: str) -> Path:
    return directory / f"session_{session_id}.jsonl"


def session_file_path(directory: Path, session_id: str) -> Path:
    return directory / f"session_{session_id}.json"
