"""One chat-completions call through the openai SDK, streamed or not, folded into a `Completion`.

The openai package is imported on first use: it costs about half a second, and paths that never
call a model (--version, --list-tools) must not pay for it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.errors import Interrupted


@dataclass
class Completion:
    content: str = ""
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    response_id: str | None = None
    logprobs: list[dict[str, Any]] | None = None
    prompt_token_ids: list[int] | None = None
    completion_token_ids: list[int] | None = None
    latency: float = 0.0
    time_to_first_token: float | None = None

    def message(self) -> dict[str, Any]:
        """The assistant message exactly as it goes back into the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.reasoning:
            msg["reasoning"] = self.reasoning
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        elif msg["content"] is None:
            msg["content"] = ""
        return msg


def import_openai() -> Any:
    """Import the SDK without its optional aiohttp transport (~95 ms here; we use the sync client).

    The SDK falls back cleanly when aiohttp is missing; we hide it only for the duration of this
    import, so anything else (modal) still imports aiohttp normally later.
    """
    if "openai" in sys.modules:
        return sys.modules["openai"]
    hidden = "aiohttp" not in sys.modules
    if hidden:
        sys.modules["aiohttp"] = None  # type: ignore[assignment]
    try:
        import openai
    finally:
        if hidden:
            del sys.modules["aiohttp"]
    return openai


def make_client(base_url: str, api_key: str, timeout: float = 600.0, stall_timeout: float | None = None) -> Any:
    """`stall_timeout` (model.stall_timeout): most seconds with no bytes, to the first byte and between chunks."""
    openai = import_openai()  # lazy: see module docstring

    # Our own retry loop honours Retry-After and reports progress, so the SDK's is off.
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=openai.Timeout(timeout, connect=10.0, read=stall_timeout if stall_timeout is not None else timeout),
    )


def _post(client: Any, params: dict[str, Any], *, stream: bool) -> Any:
    """POST /chat/completions through the SDK's own client, minus `create()`'s request transform.

    `create()` walks every message with typing introspection on each call (~25 ms at 200 messages,
    growing with the conversation). Our messages are already plain JSON, so we send them as they
    are; responses, streaming and errors are the SDK's own types.
    """
    openai = import_openai()
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    body = dict(params)
    body.update(body.pop("extra_body", None) or {})
    return client.post(
        "/chat/completions", body=body, cast_to=ChatCompletion, stream=stream,
        stream_cls=_raw_stream(openai, ChatCompletionChunk),
    )


_RAW_STREAM: Any = None


def _raw_stream(openai: Any, chunk_type: Any) -> Any:
    """The SDK's Stream, yielding each chunk as the plain dict the server sent.

    Two costs of the stock class go away: building pydantic models for every chunk (most of the
    client's CPU per streamed call; we read a handful of keys), and a new TCP (and TLS) connection
    per call: the sync SDK closes the response at `[DONE]` before the end of the chunked body, so
    httpx cannot pool the connection. We read the few remaining bytes first, as the async SDK does.
    Error payloads inside the stream still raise the SDK's `APIError`.
    """
    global _RAW_STREAM
    if _RAW_STREAM is None:
        class RawStream(openai.Stream[chunk_type]):
            def __stream__(self):  # type: ignore[override]
                events = self._iter_events()
                try:
                    for sse in events:
                        if sse.data.startswith("[DONE]"):
                            for _ in events:
                                pass
                            break
                        data = sse.json()
                        if isinstance(data, dict) and data.get("error"):
                            error = data["error"]
                            message = error.get("message") if isinstance(error, dict) else None
                            raise openai.APIError(message or "An error occurred during streaming",
                                                  request=self.response.request, body=error)
                        yield data
                finally:
                    self.response.close()

        _RAW_STREAM = RawStream
    return _RAW_STREAM


def _extra(obj: Any, *names: str) -> Any:
    """Fields outside the OpenAI schema (reasoning, token_ids) arrive as pydantic extras."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    extra = getattr(obj, "model_extra", None) or {}
    for name in names:
        if extra.get(name) is not None:
            return extra[name]
    return None


def _dump(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return obj.model_dump(exclude_none=True) if hasattr(obj, "model_dump") else dict(obj)


def _without_none(value: Any) -> Any:
    """As pydantic's `model_dump(exclude_none=True)` would give it, for plain JSON."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _logprob_entries(logprobs: Any) -> list[dict[str, Any]]:
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    return [_dump(item) or {} for item in content or []]


class _ToolCallBuffer:
    """Tool calls stream as fragments keyed by index; join them in order."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        call = self.calls.setdefault(
            len(self.calls) if index is None else index,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fn := fragment.get("function"):
            if fn.get("name"):
                call["function"]["name"] += fn["name"]
            if fn.get("arguments"):
                call["function"]["arguments"] += fn["arguments"]

    def result(self) -> list[dict[str, Any]]:
        return [self.calls[i] for i in sorted(self.calls)]


def complete(
    client: Any,
    params: dict[str, Any],
    *,
    stream: bool = True,
    on_text: Callable[[str], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
    interrupt: threading.Event | None = None,
    on_stream_open: Callable[[Any], None] | None = None,
) -> Completion:
    """Send one request. Raises the SDK's exceptions (the caller retries) or `Interrupted`."""
    started = time.perf_counter()
    if not stream:
        response = _post(client, params, stream=False)
        result = _from_response(response)
        result.latency = time.perf_counter() - started
        return result

    request = dict(params, stream=True)
    request.setdefault("stream_options", {"include_usage": True})
    result = Completion()
    content: list[str] = []
    reasoning: list[str] = []
    tools = _ToolCallBuffer()
    logprobs: list[dict[str, Any]] = []
    token_ids: list[int] = []
    saw_token_ids = False
    wants_logprobs = bool(params.get("logprobs"))

    stream_obj = _post(client, request, stream=True)
    if on_stream_open:
        on_stream_open(stream_obj)
    try:
        for chunk in stream_obj:  # plain dicts (see _raw_stream)
            if interrupt is not None and interrupt.is_set():
                raise Interrupted("interrupted")
            if result.time_to_first_token is None:
                result.time_to_first_token = time.perf_counter() - started
            result.model = result.model or chunk.get("model")
            result.response_id = result.response_id or chunk.get("id")
            if (prompt_ids := chunk.get("prompt_token_ids")) is not None:
                result.prompt_token_ids = list(prompt_ids)
            if chunk.get("usage") is not None:
                result.usage = _without_none(chunk["usage"])
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                if delta:
                    if text := delta.get("reasoning") or delta.get("reasoning_content"):
                        reasoning.append(text)
                        if on_reasoning:
                            on_reasoning(text)
                    if text := delta.get("content"):
                        content.append(text)
                        if on_text:
                            on_text(text)
                    for fragment in delta.get("tool_calls") or ():
                        tools.add(fragment)
                if wants_logprobs and (entries := choice.get("logprobs")) is not None:
                    logprobs.extend(_without_none(item) for item in entries.get("content") or ())
                if (ids := choice.get("token_ids")) is not None:
                    saw_token_ids = True
                    token_ids.extend(ids)
                if choice.get("finish_reason"):
                    result.finish_reason = choice["finish_reason"]
    finally:
        if interrupt is not None and interrupt.is_set():
            stream_obj.close()
    result.content = "".join(content)
    result.reasoning = "".join(reasoning) or None
    result.tool_calls = tools.result()
    result.logprobs = logprobs if wants_logprobs else None
    result.completion_token_ids = token_ids if saw_token_ids else None
    result.latency = time.perf_counter() - started
    return result


def _from_response(response: Any) -> Completion:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else None
    result = Completion(
        model=response.model,
        response_id=response.id,
        usage=_dump(response.usage),
        finish_reason=choice.finish_reason if choice is not None else None,
    )
    if (prompt_ids := _extra(response, "prompt_token_ids")) is not None:
        result.prompt_token_ids = list(prompt_ids)
    if message is not None:
        result.content = message.content or ""
        result.reasoning = _extra(message, "reasoning", "reasoning_content")
        result.tool_calls = [_dump(call) for call in message.tool_calls or []]
    if choice is not None:
        if choice.logprobs is not None:
            result.logprobs = _logprob_entries(choice.logprobs)
        if (ids := _extra(choice, "token_ids")) is not None:
            result.completion_token_ids = list(ids)
        if result.prompt_token_ids is None and (ids := _extra(choice, "prompt_token_ids")) is not None:
            result.prompt_token_ids = list(ids)  # SGLang puts the prompt ids on each choice
    return result


def list_models(client: Any) -> list[str]:
    return [model.id for model in client.models.list()]
