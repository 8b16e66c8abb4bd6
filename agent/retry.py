"""Retry policy for LLM calls: exponential backoff with jitter that honours Retry-After."""

from __future__ import annotations

import email.utils
import errno
import json
import math
import random
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RetryPolicy:
    """Built from settings (agent.settings.retry_policy: model.max_retries, retry_base_delay,
    request_deadline, stall_timeout)."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 20.0
    jitter: float = 0.25  # fraction of the delay added or removed at random
    deadline: float = 75.0  # no new attempt starts after this many seconds, nor waits past them
    stall_timeout: float = 30.0  # an attempt fails after this long without a byte (first or next)
    connect_timeout: float = 10.0

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
    if getattr(exc, "retryable", False):  # agent.llm.BadResponse: a 200 that was no answer
        return True
    if unreachable(exc):
        return False
    if isinstance(exc, (TimeoutError, ConnectionError, json.JSONDecodeError)):
        return True
    module = type(exc).__module__ or ""
    # openai.APIConnectionError / APITimeoutError, and raw transport errors raised mid-stream.
    if module.startswith(("openai", "httpx", "httpcore", "h11")):
        return type(exc).__name__ not in ("APIResponseValidationError",)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After(-ms) in seconds; None when absent or unreadable ("soon", "nan", ...),
    in which case our own backoff applies."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := _seconds(headers.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
        return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _seconds(value: str | None) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return max(number, 0.0) if math.isfinite(number) else None


def _causes(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def unreachable(exc: BaseException) -> str | None:
    """"refused" or "unknown host" when retrying cannot help (a typo in the port or host)."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return "refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        text = str(cause)
        if "Connection refused" in text:
            return "refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "unknown host"
    return None


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
    if code:
        return f"HTTP {code}: {message}"
    if getattr(exc, "retryable", False):  # our own BadResponse messages read as they are
        return message
    return f"{type(exc).__name__}: {message}"


def failure_message(exc: BaseException, attempts: int, endpoint: Any, model: str | None) -> str:
    """The one line a user sees when a model call failed for good: what went wrong and what to check.
    `endpoint`: agent.endpoint.Endpoint (base_url, host)."""
    from urllib.parse import urlparse

    code, host, detail = status_code(exc), endpoint.host, describe_error(exc)
    if problem := unreachable(exc):
        url = urlparse(endpoint.base_url)
        where = f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if problem == "refused":
            return (f"connection refused: {where}; is the model server running and listening there? "
                    f"check --base-url ({endpoint.base_url})")
        return f"unknown host: {url.hostname}; check --base-url ({endpoint.base_url})"
    if code in (401, 403):
        return f"the model endpoint {host} refused the API key ({detail}); check --api-key / OPENAI_API_KEY"
    if code == 404:
        return f"{host} does not know model '{model}' or the URL is wrong ({detail}); check --model / --base-url"
    if code is not None and not is_retryable(exc):
        return f"{host} rejected the request ({detail})"
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    return f"could not get a response from {endpoint.base_url} after {tries}: {detail}"
