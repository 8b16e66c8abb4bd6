"""Building `Settings`: defaults < $HERMES_HOME/config.yaml < ./cli-config.yaml < .env and the
environment < flags. The only code that reads `os.environ` for configuration.

Every value is checked (validate.py, checks.py); all problems are raised together as one
ConfigError whose lines each name a source, the bad value and what is allowed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.settings import checks
from agent.settings.model import Settings
from agent.settings.schema import BY_KEY, FIELDS
from agent.settings.sources import Entry, env_entries, file_entries, flag_entries, read_dotenv
from agent.settings.validate import Invalid, coerce, problem

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def hermes_home(environ: dict[str, str] | None = None) -> Path:
    """$HERMES_HOME, default ~/.hermes."""
    env = os.environ if environ is None else environ
    return Path(env.get("HERMES_HOME") or Path.home() / ".hermes").expanduser()


def log_dir(environ: dict[str, str] | None = None) -> Path:
    """HERMES_LOG_DIR, else logs/ beside the launcher in a checkout, else $HERMES_HOME/logs."""
    env = os.environ if environ is None else environ
    if value := env.get("HERMES_LOG_DIR"):
        return Path(value).expanduser()
    if (CHECKOUT_ROOT / "hermes").is_file() and (CHECKOUT_ROOT / "logs").is_dir():
        return CHECKOUT_ROOT / "logs"
    return hermes_home(env) / "logs"


def config_paths(home: Path, cwd: Path) -> list[Path]:
    return [home / "config.yaml", cwd / "cli-config.yaml"]


def _dotenv(home: Path, cwd: Path, environ: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Variables from $HERMES_HOME/.env and ./.env that the environment leaves unset, and their sources."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for path in (home / ".env", cwd / ".env"):  # the first file wins, as load_dotenv(override=False) did
        if not path.is_file():
            continue
        found, lines = read_dotenv(path)
        for name, value in found.items():
            if name not in environ and name not in values:
                values[name] = value
                sources[name] = f"{path}:{lines[name]} ({name})" if name in lines else f"{path} ({name})"
    return values, sources


def _flags(args: argparse.Namespace | dict[str, Any] | None) -> dict[str, Any]:
    if args is None:
        return {}
    return dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)


def load_settings(
    args: argparse.Namespace | dict[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
    read_files: bool = True,
    export_dotenv: bool = True,
) -> Settings:
    """The settings for this process. ConfigError (one line per problem) when any value is invalid.

    `export_dotenv`: variables from .env files that are not settings (API keys for tools, such as
    FIRECRAWL_API_KEY) and secrets join this process's environment, where tools look for them and
    redaction finds them.
    """
    env = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    home = hermes_home(env)
    settings = Settings(home=home, log_dir=log_dir(env))
    entries: list[Entry] = []
    dotenv: dict[str, str] = {}
    dotenv_sources: dict[str, str] = {}
    if read_files:
        dotenv, dotenv_sources = _dotenv(home, cwd, env)
    effective = {**dotenv, **env}
    entries += env_entries(effective, dotenv_sources, fallback=True)
    if read_files:
        for path in config_paths(home, cwd):
            if path.is_file():
                entries += file_entries(path, settings.warnings)
                settings.files.append(path)
    entries += env_entries(effective, dotenv_sources, fallback=False)
    entries += flag_entries(_flags(args))

    problems = []
    for entry in entries:
        spec = BY_KEY[entry.key]
        try:
            value = coerce(spec, entry.raw)
        except Invalid:
            problems.append(problem(entry, spec))
            continue
        settings.set(entry.key, value, entry.source)
        for name, source in entry.parts:  # where each custom toolset, personality... was defined
            settings.sources[f"{entry.key}.{name}"] = source
    if not problems:
        problems += checks.extensions(settings, effective)
        for check in checks.ALL:
            problems += check(settings)
    if problems:
        raise ConfigError("\n".join(problems))

    settings.openrouter_api_key = effective.get("OPENROUTER_API_KEY") or None
    settings.openrouter_base_url = effective.get("OPENROUTER_BASE_URL") or None
    settings.terminal.home = home
    settings.terminal.environ = effective
    from agent.secrets import is_secret_name, secret_values

    settings.secrets = secret_values(effective)
    if export_dotenv and environ is None:
        for name, value in dotenv.items():
            # A tool's API key (FIRECRAWL_API_KEY...) or any secret, so redaction knows it; never settings.
            if is_secret_name(name) or not any(name in spec.env or name in spec.fallback_env for spec in FIELDS):
                os.environ.setdefault(name, value)
    return settings


def default_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment only (no files): for code used without a front end."""
    return load_settings(None, environ=environ, read_files=False, export_dotenv=False)
