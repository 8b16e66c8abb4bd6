"""Retry policy for LLM calls: exponential backoff with jitter that honours Retry-After."""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Built from settings (agent.settings.retry_policy: model.max_retries, retry_base_delay, request_deadline)."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 20.0
    jitter: float = 0.25  # fraction of the delay added or removed at random
    deadline: float = 75.0  # no new attempt starts after this many seconds

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:  # the server knows best; the deadline still bounds the run
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        raw = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return max(0.0, raw * (1 + random.uniform(-self.jitter, self.jitter)))


MAX_RETRY_AFTER = 60.0

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


def status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def is_retryable(exc: BaseException) -> bool:
    """Transient failures: rate limits, 5xx, timeouts, dropped connections, garbled streams."""
    code = status_code(exc)
    if code is not None:
        return code in _RETRY_STATUS or code >= 500
    if isinstance(exc, (TimeoutError, ConnectionError, json.JSONDecodeError)):
        return True
    module = type(exc).__module__ or ""
    # openai.APIConnectionError / APITimeoutError, and raw transport errors raised mid-stream.
    if module.startswith(("openai", "httpx", "httpcore", "h11")):
        return type(exc).__name__ not in ("APIResponseValidationError",)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def describe_error(exc: BaseException) -> str:
    """One human line for an API failure: status, server message, no traceback."""
    code = status_code(exc)
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else str(inner)
    if message is None:
        message = str(exc) or type(exc).__name__
    message = " ".join(message.split())[:300]
    return f"HTTP {code}: {message}" if code else f"{type(exc).__name__}: {message}"
