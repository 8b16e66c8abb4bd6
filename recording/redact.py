"""Secrets never reach a log or an export: known secret values and key-shaped strings become [REDACTED]."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from agent.secrets import secret_values

REDACTED = "[REDACTED]"

# Key formats of common providers, so a key pasted into a prompt or printed by a tool is caught too.
_PATTERNS = [
    r"sk-(?:or-v1-|proj-|ant-)?[A-Za-z0-9_\-]{16,}",
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",
    r"AKIA[0-9A-Z]{16}",
    r"hf_[A-Za-z0-9]{20,}",
    r"fc-[A-Za-z0-9]{20,}",
    r"AIza[0-9A-Za-z_\-]{30,}",
    r"(?<=Bearer )[A-Za-z0-9._\-]{12,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
]


class Redactor:
    def __init__(self, extra_secrets: Iterable[str | None] = ()) -> None:
        values = set(secret_values())
        values.update(s for s in extra_secrets if s and len(s) >= 6 and s != "EMPTY")
        literals: set[str] = set()
        for value in values:
            literals.add(value)
            # The same secret inside a JSON string is escaped; match that spelling as well.
            literals.add(json.dumps(value)[1:-1])
        parts = [re.escape(v) for v in sorted(literals, key=len, reverse=True)] + _PATTERNS
        self._regex = re.compile("|".join(parts))

    def __call__(self, text: str) -> str:
        return self._regex.sub(REDACTED, text)
