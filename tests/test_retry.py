"""Backoff arithmetic: exponential, jittered, capped, Retry-After wins."""

from __future__ import annotations

from agent.retry import RetryPolicy, is_retryable


def test_exponential_with_jitter_and_cap():
    policy = RetryPolicy(base_delay=1, max_delay=5, jitter=0.25)
    for attempt, nominal in ((1, 1), (2, 2), (3, 4), (4, 5), (8, 5)):
        for _ in range(20):
            assert nominal * 0.75 <= policy.delay(attempt) <= nominal * 1.25


def test_retry_after_is_honoured():
    assert RetryPolicy().delay(1, retry_after=7) == 7


def test_classification():
    class Status(Exception):
        def __init__(self, code):
            self.status_code = code

    assert is_retryable(Status(429)) and is_retryable(Status(503))
    assert not is_retryable(Status(401)) and not is_retryable(Status(400))
    assert is_retryable(ConnectionResetError()) and not is_retryable(ValueError())
