"""Which environment variables are secrets, so they are neither exported to tools nor logged."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)", re.I)
# Variables that look secret by name but are harmless configuration.
_NOT_SECRET = {"TOKENIZERS_PARALLELISM", "HERMES_TOKENIZER"}
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would redact ordinary text


def is_secret_name(name: str) -> bool:
    return name not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


# Values that are credentials whatever the variable is called: a URL with a password, key shapes.
_SECRET_VALUE = re.compile(
    r"://[^/\s:@]+:[^/\s@]+@|^(?:sk-|ghp_|gho_|github_pat_|xox[abprs]-|hf_|AKIA[0-9A-Z]{16}|AIza)"
    r"|^eyJ[A-Za-z0-9_-]{8,}\.eyJ|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def looks_secret(name: str, value: str) -> bool:
    """A secret by its name (`*_API_KEY`, `*TOKEN*`...) or by its value (`postgres://u:p@h`, `sk-...`)."""
    return is_secret_name(name) or bool(_SECRET_VALUE.search(value))


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-named variables, longest first so a redaction never leaves a suffix behind."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if len(v) >= _MIN_SECRET_LEN and looks_secret(k, v)}
    return sorted(values, key=len, reverse=True)


def scrubbed_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without the agent's secrets, for commands the model runs."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not looks_secret(k, v)}
