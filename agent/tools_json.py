"""JSON texts derived from a list of tool schemas, made once per list of schemas, not per call.

Every model call sends the tool schemas (often most of the request's bytes), the compression check
measures them and the ShareGPT system prompt lists them: at a thousand samples in flight that was
the same few KB serialized again and again (bench/bench_batch.py). The registry hands out one
schema dict per tool (`Tool.schema`), so the lists of two agents with the same tools hold the same
objects: a list is known by the identities of its schemas. Schemas are never changed in place
(a changed tool is a new schema), which is what makes the identity a safe key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

Tools = list[dict[str, Any]]
MAX_LISTS = 256  # distinct tool lists kept per memo (toolset mixes of a run; MCP reconnects)


class ByIdentity:
    """`fn(tools)` remembered per list of schema objects. The memo holds the schemas themselves,
    so their ids cannot be reused by other objects while they are a key."""

    def __init__(self, fn: Callable[[Tools], Any]) -> None:
        self.fn = fn
        self._memo: dict[tuple[int, ...], tuple[Tools, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, tools: Tools) -> Any:
        key = tuple(map(id, tools))
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]
        value = self.fn(tools)
        with self._lock:
            if len(self._memo) >= MAX_LISTS:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = (list(tools), value)
        return value


tools_json: Callable[[Tools], str] = ByIdentity(json.dumps)
"""`json.dumps(tools)`: the `tools` of a request body, exactly as the body's encoder writes it."""


def request_body(body: dict[str, Any]) -> bytes:
    """`json.dumps(body).encode()`, with the tools' text taken from the memo (same bytes)."""
    tools = body.get("tools")
    if not tools or not isinstance(tools, list):
        return json.dumps(body).encode()
    rest = json.dumps({key: value for key, value in body.items() if key != "tools"})
    # `{"a": 1}` -> `{"a": 1, "tools": [...]}`; key order differs from json.dumps(body), which no
    # server reads (a JSON object is unordered).
    joiner = ', "tools": ' if rest != "{}" else '"tools": '
    return (rest[:-1] + joiner + tools_json(tools) + "}").encode()
