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


def test_unreadable_retry_after_values_fall_back_to_backoff():
    from agent.retry import retry_after_seconds

    class Response:
        def __init__(self, headers):
            self.headers = headers

    class Limited(Exception):
        def __init__(self, **headers):
            self.response = Response(headers)

    assert retry_after_seconds(Limited(**{"retry-after": "7"})) == 7
    assert retry_after_seconds(Limited(**{"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(Limited(**{"retry-after-ms": "soon", "retry-after": "3"})) == 3
    for value in ("soon", "nan", "inf", "-inf", "", "Wed, 99 Foo 2015 07:28:00 GMT", "1e999", "\x00"):
        assert retry_after_seconds(Limited(**{"retry-after": value})) is None, value
    assert retry_after_seconds(Limited(**{"retry-after": "-5"})) == 0
    assert 0 <= retry_after_seconds(Limited(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) < 1


def test_refused_and_unknown_host_are_not_retried_but_bad_responses_are():
    import socket

    from agent.llm import BadResponse, StallTimeout
    from agent.retry import unreachable

    refused = ConnectionError("Connection error.")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    unknown = ConnectionError("Connection error.")
    unknown.__context__ = socket.gaierror(-2, "Name or service not known")
    assert unreachable(refused) == "refused" and not is_retryable(refused)
    assert unreachable(unknown) == "unknown host" and not is_retryable(unknown)
    assert is_retryable(BadResponse("html")) and is_retryable(StallTimeout("stall"))
    assert unreachable(ConnectionResetError()) is None and is_retryable(ConnectionResetError())
