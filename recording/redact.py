"""Secrets never reach a log, an export or the screen: they become [REDACTED].

Two passes over the text:
1. one regex of every known secret value (the environment's secret-looking variables, the
   endpoint's key) in every spelling it can take inside logs: raw, JSON-escaped once, twice and
   three times (a tool result holding JSON holding a string), `\\uXXXX`-escaped and URL-encoded;
   plus key shapes: provider keys (`sk-...`, `ghp_...`, `AKIA...`), JWTs, bearer tokens,
   credentials in URLs (`https://user:pass@host`) and PEM private keys.
2. values under secret-like names: `password=...`, `"api_key": "..."`, `aws_secret_access_key = ...`,
   and `NAME=value` lines (as `env` prints them) whose name looks secret. Password-like names
   redact any value; token/key/secret names redact values that look random (long, mixed
   characters), so `max_tokens=100` or `tokenizer=gpt2` stay readable. Bearer tokens and
   `user:password@` in URLs are here too (they keep their prefix). This pass runs only when the
   text has one of those words: substring tests are far cheaper than the regex.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from urllib.parse import quote

from agent.secrets import is_secret_name, secret_values

REDACTED = "[REDACTED]"
_MIN_LEN = 6

# Key formats of common providers and generic credential shapes, found anywhere in the text.
_PATTERNS = [
    r"sk-(?:or-v1-|proj-|ant-)?[A-Za-z0-9_\-]{16,}",
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}",
    r"hf_[A-Za-z0-9]{20,}",
    r"fc-[A-Za-z0-9]{20,}",
    r"AIza[0-9A-Za-z_\-]{30,}",
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",  # JWT: header.payload.signature
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
]

# Values under secret-like names (pass 2). `kw` decides how sure we are; `sep` keeps quotes and
# their JSON escapes (`\"`) so the text stays well-formed; `env` is a `NAME=value` line.
_KEYED = re.compile(
    r"(?=[PpSsTtAaCc])(?P<kw>(?i:passw(?:or)?d|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?|auth))(?P<rest>[A-Za-z0-9_.\-]*)"
    r"(?P<sep>(?:\\*[\"'])?[ \t]*[:=][ \t]*(?:\\*[\"'])?)(?![Bb]earer |[Bb]asic )(?P<value>[^\s\"'\\,;&)}\]]{4,})"
    # NAME=value not inside a longer word; after a JSON-escaped newline (`\\nNAME=`) too.
    r"|(?P<env>[A-Z](?<![A-Za-mo-z0-9_].)[A-Z0-9_]{2,})=(?P<envvalue>[^\s\"'\\]+)"
    r"|(?P<bearer>(?:[Bb]earer|[Bb]asic) )[A-Za-z0-9._~+/=\-]{12,}"
    r"|(?P<scheme>://)[^/\s:@\"'\\]+:[^/\s@\"'\\]+(?=@)"  # user:password in a URL
)
_WORDLIKE_SHAPES = ("sk-", "gh", "github_pat_", "xox", "hf_", "fc-")  # prefixes that also end ordinary words
_URL_PASSWORD = re.compile(r"://[^/\s:@]+:([^/\s@]+)@")
_NAME_WORDS = ("passw", "passphrase", "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key",
               "accesskey", "private_key", "private-key", "privatekey", "credential", "auth", "bearer", "basic ")
_PASSWORD_KW = re.compile(r"passw|passphrase", re.I)
_NOT_A_VALUE = re.compile(r"(?i)(?:str|string|bytes|int|bool|none|null|nil|true|false|undefined|optional\b.*|"
                          r"required|\*+|x+|\.\.\.|<[^>]*>?|\$.*|\{.*|%.*|\(.*|os\..*|self\..*|"
                          + re.escape(REDACTED[:-1]) + r".*)")


def looks_random(value: str) -> bool:
    """Long, mixed-character, high-entropy text: a generated key rather than a word or a number."""
    if len(value) < 16 or value.startswith(("$", "[REDACTED")):
        return False
    classes = sum(1 for test in (str.islower, str.isupper, str.isdigit) if any(test(c) for c in value))
    if classes < 2:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.0


def _keyed(match: re.Match[str]) -> str:
    kept = match.group("bearer") or match.group("scheme")
    if kept:
        return kept + REDACTED
    env = match.group("env")
    if env is not None:
        if is_secret_name(env):
            return f"{env}={REDACTED}"
        return match.group(0)
    value = match.group("value")
    if _NOT_A_VALUE.fullmatch(value):
        return match.group(0)
    if _PASSWORD_KW.match(match.group("kw")) or looks_random(value):
        return match.group(0)[: match.start("value") - match.start(0)] + REDACTED
    return match.group(0)


def spellings(secret: str) -> set[str]:
    """Every way a secret can appear in logs: raw, JSON-escaped 1-3 times (with or without
    `\\uXXXX` escapes at each level), URL-encoded."""
    out = {secret, quote(secret, safe="")}
    frontier = {secret}
    for _ in range(3):
        frontier = {json.dumps(s, ensure_ascii=ascii_only)[1:-1] for s in frontier for ascii_only in (False, True)}
        out |= frontier
    return {s for s in out if s}


MEMO_FROM, MEMO_SIZE = 2048, 64  # texts this long are remembered, this many at most


class Redactor:
    def __init__(self, extra_secrets: Iterable[str | None] = ()) -> None:
        values = set(secret_values())
        values.update(s for s in extra_secrets if s and len(s) >= _MIN_LEN and s != "EMPTY")
        # The password inside a known URL (`DATABASE_URL=postgres://u:p@h`) is a secret on its own.
        values |= {m.group(1) for v in list(values) for m in _URL_PASSWORD.finditer(v) if len(m.group(1)) >= _MIN_LEN}
        literals: set[str] = set()
        for value in values:
            literals |= spellings(value)
        parts = [re.escape(v) for v in sorted(literals, key=len, reverse=True)] + _PATTERNS
        self._regex = re.compile("|".join(parts))
        self._literals = literals
        self._memo: dict[str, str] = {}  # long texts seen before (a batch run's system prompt, per sample)

    def _replace(self, match: re.Match[str]) -> str:
        # A key shape glued to a word is part of that word: `task-management-system` is no `sk-` key.
        start, found = match.start(), match.group()
        if (start and found.startswith(_WORDLIKE_SHAPES) and match.string[start - 1].isalnum()
                and match.string[start - 2:start] not in ("\\n", "\\t", "\\r") and found not in self._literals):
            return found
        return REDACTED

    def __call__(self, text: str) -> str:
        if len(text) < MEMO_FROM:
            return self._redact(text)
        if (done := self._memo.get(text)) is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            done = self._memo[text] = self._redact(text)
        return done

    def _redact(self, text: str) -> str:
        text = self._regex.sub(self._replace, text)
        lowered = text.lower()
        if "://" in text or any(map(lowered.__contains__, _NAME_WORDS)):  # no Python frame per word
            text = keyed_sub(text, lowered)
        return text


# Where a pass-2 match can start: each name word (the `kw` alternative starts with one), `bearer `
# and `basic `, `://`. `NAME=` lines start where a run of [A-Z0-9_] before a `=` starts.
_STARTS = ("passw", "passphrase", "secret", "token", "api", "access", "private", "credential", "auth",
           "bearer ", "basic ", "://")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def keyed_sub(text: str, lowered: str) -> str:
    """`_KEYED.sub(_keyed, text)`, the same matches, ~20x faster on long text: the regex is tried
    only where a match can start (found with `str.find`) instead of at every character, where its
    case-insensitive alternation cost ~0.35 us a character (3 ms for an 8 KB system prompt, redacted
    several times per session). `lowered` is `text.lower()`."""
    if len(lowered) != len(text):  # a character whose lower case is longer: positions differ
        return _KEYED.sub(_keyed, text)
    starts = set()
    for word in _STARTS:
        at = lowered.find(word)
        while at >= 0:
            starts.add(at)
            at = lowered.find(word, at + 1)
    at = text.find("=")
    while at >= 0:
        begin = at
        while begin and text[begin - 1] in _NAME_CHARS:
            begin -= 1
        if begin < at:
            starts.add(begin)
        at = text.find("=", at + 1)
    out, pos = [], 0
    for start in sorted(starts):
        if start < pos:
            continue
        match = _KEYED.match(text, start)
        if match:
            out += (text[pos:start], _keyed(match))
            pos = match.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


_SHARED: dict[tuple[tuple[str, ...], tuple[str, ...]], Redactor] = {}
_SHARED_LOCK = threading.Lock()


def shared(extra_secrets: Iterable[str | None] = ()) -> Redactor:
    """A redactor for `extra_secrets` and the environment's secrets as they are now: the same object
    while both stay the same, so a batch run's thousand sessions share one (built once, and its
    memory of long texts: the system prompt with its tools is redacted once, not per session)."""
    key = (tuple(s for s in extra_secrets if s), tuple(secret_values()))
    with _SHARED_LOCK:
        if (redactor := _SHARED.get(key)) is None:
            if len(_SHARED) >= 8:
                _SHARED.clear()
            redactor = _SHARED[key] = Redactor(key[0])
        return redactor


class RedactingWriter:
    """A text stream whose every write is redacted first (stdout/stderr of one-shot runs)."""

    def __init__(self, stream, redact: Redactor) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        return self._stream.write(self._redact(text))

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
