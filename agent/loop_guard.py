"""Stops a model that keeps repeating the same failing tool call."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any


def result_failed(result: str) -> bool:
    """A tool result counts as failed if it carries an error or a non-zero exit code."""
    try:
        data = json.loads(result)
    except (json.JSONDecodeError, TypeError):
        return False
    if not isinstance(data, dict):
        return False
    return bool(data.get("error")) or data.get("exit_code") not in (None, 0)


class LoopGuard:
    """After `max_repeats` identical failures a call is refused; after `max_refusals` the run stops."""

    def __init__(self, max_repeats: int = 3, max_refusals: int = 2) -> None:
        self.max_repeats = max_repeats
        self.max_refusals = max_refusals
        self.failures: Counter[str] = Counter()
        self.refusals = 0

    @staticmethod
    def key(name: str, arguments: dict[str, Any] | str | None) -> str:
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments, sort_keys=True)
        return f"{name}\x00{arguments}"

    def should_refuse(self, name: str, arguments: dict[str, Any] | str | None) -> bool:
        if self.failures[self.key(name, arguments)] >= self.max_repeats:
            self.refusals += 1
            return True
        return False

    def record(self, name: str, arguments: dict[str, Any] | str | None, result: str) -> None:
        key = self.key(name, arguments)
        if result_failed(result):
            self.failures[key] += 1
        else:
            self.failures.pop(key, None)

    @property
    def exhausted(self) -> bool:
        return self.refusals >= self.max_refusals

    def refusal_message(self, name: str) -> str:
        return json.dumps(
            {
                "error": f"not run: this exact {name} call already failed {self.max_repeats} times. "
                "Change the arguments or try a different approach."
            }
        )
