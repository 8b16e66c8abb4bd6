"""Scripted replies and the OpenAI-compatible JSON / SSE chunks built from them.

Tokenisation used for logprobs and streaming is deliberately trivial and documented so
tests can predict it: content is split into 4-character tokens (``TOKEN_CHARS``), and a
streamed content chunk carries ``CHUNK_CHARS`` characters (two tokens).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TOKEN_CHARS = 4
CHUNK_CHARS = 8  # a multiple of TOKEN_CHARS so each content chunk holds whole tokens

TokenIds = Callable[[dict, str], tuple[list[int], list[int]]]
# (request body, completion text) -> [(token text, logprob)]: logprobs from a real tokenizer's tokens.
LogprobTokens = Callable[[dict, str], list[tuple[str, float]]]


@dataclass
class ToolCall:
    """One function call; dict arguments are JSON-encoded, str arguments are sent verbatim."""

    name: str
    arguments: dict | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass
class Reply:
    """What the server answers to one chat-completions request, including injected faults."""

    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict | None = None
    # What the model "generated" as token hooks see it (e.g. Hermes <tool_call> text plus the
    # end-of-turn token); default: the content, or one JSON object per tool call.
    raw_text: str | None = None
    # faults
    status: int = 200
    error_body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    disconnect: str | None = None  # "before" | "during"
    malformed: bool = False
    chunk_delay: float = 0.0
    # streamed only: halfway through the chunks, an `{"error": stream_error}` event ends the stream
    # (as OpenRouter reports an upstream failure once the 200 is sent)
    stream_error: dict | None = None
    # More faults (endpoint-side garbage a client must not take for an answer):
    body: str | bytes | None = None  # sent verbatim as the 200 (or `status`) body instead of a completion
    content_type: str = "text/html; charset=utf-8"  # of `body`
    non_streamed: bool = False  # a streaming request gets the whole chat.completion JSON instead
    cut_after: int | None = None  # stream: end the body cleanly after N events, no finish_reason/[DONE]
    stall: float = 0.0  # send nothing for this long once headers (+ `stall_after` events) are out
    stall_after: int = 0
    split_bytes: int | None = None  # stream: write the body in pieces of N bytes (splits UTF-8 chars)
    chunk_chars: int | None = None  # stream: characters per content/argument chunk (default CHUNK_CHARS)
    # stream: pace the reply like a slow local model, one character per chunk (unless chunk_chars
    # says otherwise) and chunk_chars / chars_per_second seconds between chunks
    chars_per_second: float | None = None
    omit_call_ids: bool = False  # tool calls arrive without an "id"

    def __post_init__(self) -> None:
        if self.disconnect not in (None, "before", "during"):
            raise ValueError(f"disconnect must be None, 'before' or 'during', not {self.disconnect!r}")
        if self.split_bytes is not None and self.split_bytes < 1:
            raise ValueError("split_bytes must be at least 1")

    @classmethod
    def from_dict(cls, data: dict) -> Reply:
        """Build from a JSON script entry; tool calls are ``{"name", "arguments"[, "id"]}``."""
        data = dict(data)
        calls = [ToolCall(c["name"], c.get("arguments", {}), c.get("id")) for c in data.pop("tool_calls", [])]
        return cls(tool_calls=calls, **data)

    @property
    def effective_finish_reason(self) -> str:
        if self.finish_reason:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


def error_payload(status: int, message: str | None = None) -> dict:
    """An OpenAI-style error body."""
    kind = (
        "server_error" if status >= 500 else "rate_limit_error" if status == 429 else "invalid_request_error"
    )
    return {
        "error": {
            "message": message or f"scripted server: injected HTTP {status}",
            "type": kind,
            "param": None,
            "code": status,
        }
    }


def completion_text(reply: Reply) -> str:
    """Text the tokenizer hooks see: `raw_text`, else the content, else one JSON object per tool call."""
    if reply.raw_text is not None:
        return reply.raw_text
    if reply.content or not reply.tool_calls:
        return reply.content
    lines = []
    for call in reply.tool_calls:
        lines.append(json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False))
    return "\n".join(lines)


def default_token_ids(body: dict, text: str) -> tuple[list[int], list[int]]:
    """UTF-8 bytes of the JSON-encoded messages and of the completion text."""
    prompt = json.dumps(body.get("messages", []), ensure_ascii=False).encode()
    return list(prompt), list(text.encode())


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def logprob_entries(text: str, top_k: int, start: int = 0) -> list[dict]:
    """Deterministic logprobs for the 4-char tokens of ``text``; ``start`` is the global token index."""
    pairs = [(token, round(-0.1 * (i % 7) - 0.01, 4)) for i, token in enumerate(split(text, TOKEN_CHARS), start)]
    return hook_logprob_entries(pairs, top_k)


def hook_logprob_entries(pairs: list[tuple[str, float]], top_k: int) -> list[dict]:
    """Logprob entries for tokens a `LogprobTokens` hook chose; alternatives are marked `~j`."""
    entries = []
    for token, lp in pairs:
        top = [{"token": token, "logprob": lp, "bytes": list(token.encode())}][:top_k]
        for j in range(1, top_k):
            alt = f"{token}~{j}"
            top.append({"token": alt, "logprob": round(lp - j, 4), "bytes": list(alt.encode())})
        entries.append({"token": token, "logprob": lp, "bytes": list(token.encode()), "top_logprobs": top})
    return entries


def compute_usage(reply: Reply, body: dict) -> dict:
    if reply.usage is not None:
        return reply.usage
    prompt = max(1, len(json.dumps(body.get("messages", []), ensure_ascii=False)) // 4)
    args = sum(len(c.arguments_json) for c in reply.tool_calls)
    completion = max(1, (len(reply.content) + args) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass
class Rendering:
    """Per-request context: ids the server assigned and what the request asked for."""

    reply: Reply
    body: dict
    completion_id: str
    created: int
    model: str
    call_ids: list[str]
    token_ids: TokenIds | None = None
    logprob_tokens: LogprobTokens | None = None
    # "vllm": token ids on `return_token_ids`. "sglang": the same request, but both id lists on the
    # choice, and not when streaming (the completion server would reject it; here they are left out).
    # "llamacpp" (llama-cpp-python / llama-server): no token-id fields, logprobs only when
    # `top_logprobs` is set, each entry carrying the token `id`. "llama-cpp-python": the same, but
    # entries carry only the token's text (`bytes` null), no id.
    flavour: str = "vllm"

    @property
    def want_logprobs(self) -> bool:
        if self.flavour in ("llamacpp", "llama-cpp-python") and "top_logprobs" not in self.body:
            return False
        return bool(self.body.get("logprobs"))

    @property
    def top_k(self) -> int:
        return int(self.body.get("top_logprobs") or 0)

    @property
    def want_token_ids(self) -> bool:
        if self.flavour == "sglang" and self.body.get("stream"):
            return False
        return self.flavour in ("vllm", "sglang") and bool(self.body.get("return_token_ids"))

    def ids(self) -> tuple[list[int], list[int]]:
        return (self.token_ids or default_token_ids)(self.body, completion_text(self.reply))

    def hooked_logprobs(self) -> list[dict]:
        """Entries from the `logprob_tokens` hook: one per generated token, tool-call text included."""
        assert self.logprob_tokens is not None
        entries = hook_logprob_entries(self.logprob_tokens(self.body, completion_text(self.reply)), self.top_k)
        if self.flavour == "llamacpp":
            for entry, token_id in zip(entries, self.ids()[1], strict=False):
                entry["id"] = token_id
        elif self.flavour == "llama-cpp-python":
            for entry in entries:
                entry["bytes"] = None
        return entries

    def _tool_call_json(self, i: int, call: ToolCall) -> dict:
        out: dict[str, Any] = {"id": self.call_ids[i], "type": "function",
                               "function": {"name": call.name, "arguments": call.arguments_json}}
        if self.reply.omit_call_ids:
            del out["id"]
        return out

    def completion(self) -> dict:
        """The non-streaming ``chat.completion`` object."""
        reply = self.reply
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content if reply.content or not reply.tool_calls else None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [self._tool_call_json(i, c) for i, c in enumerate(reply.tool_calls)]
        if reply.reasoning is not None:
            message["reasoning"] = reply.reasoning
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "logprobs": {"content": self.hooked_logprobs() if self.logprob_tokens
                         else logprob_entries(reply.content, self.top_k)}
            if self.want_logprobs
            else None,
            "finish_reason": reply.effective_finish_reason,
        }
        out: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": compute_usage(reply, self.body),
        }
        if self.want_token_ids and self.flavour == "sglang":
            choice["prompt_token_ids"], choice["token_ids"] = self.ids()
        elif self.want_token_ids:
            out["prompt_token_ids"], choice["token_ids"] = self.ids()
        return out

    def _chunk(self, delta: dict, **choice_extra: Any) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None, **choice_extra}
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    @property
    def _include_usage(self) -> bool:
        return bool((self.body.get("stream_options") or {}).get("include_usage"))

    def chunks(self) -> Iterator[dict]:
        """The ``chat.completion.chunk`` objects of a stream, without the ``[DONE]`` marker."""
        reply = self.reply
        first = self._chunk({"role": "assistant", "content": ""})
        prompt_ids, completion_ids = self.ids() if self.want_token_ids else ([], [])
        if self.want_token_ids:
            first["prompt_token_ids"] = prompt_ids
            first["choices"][0]["token_ids"] = []
        yield first

        for piece in split(reply.reasoning or "", CHUNK_CHARS):
            yield self._with_ids(self._chunk({"reasoning": piece}), [])

        # Chunks that carry completion text, each with the length used to share out token ids.
        carriers: list[tuple[dict, int]] = []
        token_index = 0
        size = reply.chunk_chars or (1 if reply.chars_per_second else CHUNK_CHARS)
        for piece in split(reply.content, size):
            extra = {}
            if self.want_logprobs and not self.logprob_tokens:
                extra["logprobs"] = {"content": logprob_entries(piece, self.top_k, token_index)}
                token_index += math.ceil(len(piece) / TOKEN_CHARS)
            carriers.append((self._chunk({"content": piece}, **extra), len(piece)))
        for i, call in enumerate(reply.tool_calls):
            head = {
                "index": i,
                "id": self.call_ids[i],
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            if reply.omit_call_ids:
                del head["id"]
            carriers.append((self._chunk({"tool_calls": [head]}), len(call.name)))
            for frag in split(call.arguments_json, size):
                delta = {"tool_calls": [{"index": i, "function": {"arguments": frag}}]}
                carriers.append((self._chunk(delta), len(frag)))

        weights = [n for _, n in carriers]
        shares = _share(completion_ids, weights)
        hooked = self.hooked_logprobs() if self.want_logprobs and self.logprob_tokens else None
        lp_shares = _share(hooked, weights) if hooked is not None else [None] * len(carriers)
        for (chunk, _), ids, lps in zip(carriers, shares, lp_shares, strict=True):
            if lps:
                chunk["choices"][0]["logprobs"] = {"content": lps}
            yield self._with_ids(chunk, ids)

        leftover = completion_ids if not carriers else []
        last = self._chunk({}, finish_reason=reply.effective_finish_reason)
        if hooked and not carriers:
            last["choices"][0]["logprobs"] = {"content": hooked}
        yield self._with_ids(last, leftover)

        if self._include_usage:
            yield {
                "id": self.completion_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": compute_usage(reply, self.body),
            }

    def _with_ids(self, chunk: dict, ids: list[int]) -> dict:
        if self.want_token_ids:
            chunk["choices"][0]["token_ids"] = ids
        return chunk


def _share(ids: list, weights: list[int]) -> list[list]:
    """Split ``ids`` (token ids or logprob entries) into consecutive runs proportional to ``weights`` (byte-aligned for ASCII text)."""
    total = sum(weights)
    if not weights:
        return []
    if total == 0:
        return [[] for _ in weights[:-1]] + [list(ids)]
    out, cum, prev = [], 0, 0
    for w in weights:
        cum += w
        end = len(ids) * cum // total
        out.append(ids[prev:end])
        prev = end
    return out
