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


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-named variables, longest first so a redaction never leaves a suffix behind."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if is_secret_name(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def scrubbed_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without the agent's secrets, for commands the model runs."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if not is_secret_name(k)}
