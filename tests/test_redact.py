"""Redactor: every secret shape, known secrets at every JSON escaping depth, and ordinary text left alone."""

from __future__ import annotations

import json

import pytest

from recording.redact import REDACTED, Redactor


@pytest.mark.parametrize(("text", "secret"), [
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcDEF123_-x", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("git clone https://alice:s3cretpw@github.com/x.git", "s3cretpw"),
    ("id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk"),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
    ("password=hunter22", "hunter22"),
    ("PASSWORD: correcthorse", "correcthorse"),
    ('{"db_password": "tr0ub4dor"}', "tr0ub4dor"),
    ('{"api_key": "Zx8kQ2mN4pL7vR9tY1wB3cD5"}', "Zx8kQ2mN4pL7vR9tY1wB3cD5"),
    ("GITHUB_TOKEN=abc", "GITHUB_TOKEN=abc"),
    (json.dumps({"output": "A=1\nSTRIPE_SECRET=shorty\n"}), "shorty"),
    ("export OPENAI_API_KEY=sk-abcdefghijklmnopqrstuv", "sk-abcdefghijklmnopqrstuv"),
])
def test_shapes_are_redacted(text: str, secret: str):
    out = Redactor()(text)
    assert secret not in out and REDACTED in out, out


@pytest.mark.parametrize("text", [
    "max_tokens=100 tokenizer=gpt2 prompt_tokens: 1234 author: John", "def login(password: str) -> bool:",
    "password = os.environ['DB_PASSWORD']", "token_count=12 key=value", "PATH=/usr/bin:/bin PWD=/root HOME=/root",
    "see https://example.com/a:b@c", "git log --author=alice", "the task-management-system-v2 repo", "ls -la ~/.ssh", "secret: ${SECRET_FROM_ENV}",
])
def test_ordinary_text_is_left_alone(text: str):
    assert Redactor()(text) == text


def test_known_secret_with_quotes_and_backslashes_at_every_escaping_depth(monkeypatch):
    secret = 'p"a\\ss-wörd-77'
    monkeypatch.setenv("SERVICE_PASSWORD", secret)
    redact = Redactor()
    text = secret
    for depth in range(4):
        assert secret not in redact(text) and REDACTED in redact(text), depth
        assert json.dumps(secret)[1:-1] not in redact(json.dumps(text))
        text = json.dumps({"nested": text})
    ascii_escaped = json.dumps({"k": secret}, ensure_ascii=True)
    assert REDACTED in redact(ascii_escaped)


def test_password_inside_a_known_url_is_a_secret_on_its_own(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app:plainwordspass@db/prod")
    assert Redactor()("the password is plainwordspass") == f"the password is {REDACTED}"


def test_redaction_is_idempotent():
    redact = Redactor(["extra-secret-123"])
    text = "password=hunter22 Bearer abcdefghijklmnop1234 https://u:pw@h MY_TOKEN=x extra-secret-123"
    once = redact(text)
    assert redact(once) == once


def test_keyed_pass_finds_exactly_what_the_whole_regex_finds():
    # The fast second pass (tried only where a match can start) against the regex run at every
    # character, on random text built from the pieces those matches are made of.
    import random

    from recording.redact import _KEYED, _keyed, keyed_sub

    pieces = ["password", "PASSWORD", "Passwd", "passphrase", "api_key", "Api-Key", "APIKEY", "token", "tokens",
              "secret", "SECRET", "access_key", "private-key", "credentials", "auth", "Authorization", "=", ":",
              " ", "\t", '"', "'", '\\"', "\\n", "\n", "AWS_SECRET_ACCESS_KEY", "MY_TOKEN", "9ABC", "_X", "Bearer ",
              "bearer ", "Basic ", "BASIC ", "https://", "user:pw@", "u:", "@host", "abcDEF123456xyz987",
              "Qx7Lm2Np9Rt4Vw8Z", "100", "gpt2", "İ", "é", ",", ";", "}", "]", "n", "KEY=", "max_tokens=5"]
    rng = random.Random(19)
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        assert keyed_sub(text, text.lower()) == _KEYED.sub(_keyed, text), text


def test_long_texts_are_remembered_and_still_redacted_every_time():
    redact = Redactor(["s3cret-value-1234"])
    long = "x" * 3000 + " key s3cret-value-1234 and password=hunter22 " + "y" * 3000
    first, second = redact(long), redact(long)
    assert first == second and "s3cret-value-1234" not in second and "hunter22" not in second
    other = long.replace("hunter22", "hunter33")
    assert "hunter33" not in redact(other) and other in redact._memo and long in redact._memo
    for i in range(200):  # the memory is bounded
        redact(f"{i} " + long)
    assert len(redact._memo) <= 64


def test_auth_named_values_alone_are_redacted():
    # `auth` is the only name word here: the second pass must still run.
    assert "Zx8kQ2mN4pL7vR9tY1wB3cD5" not in Redactor()("auth: Zx8kQ2mN4pL7vR9tY1wB3cD5")
