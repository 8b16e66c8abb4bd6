"""`agent.llm.complete` for asyncio: one chat-completions call through the SDK's `AsyncOpenAI`.

The batch runner's asyncio driver (batch/aio.py) keeps a thousand samples waiting on a slow
endpoint on one event loop instead of a thousand threads. What a reply means is decided by the
same code as the sync path: `StreamFold` for streamed chunks, `from_raw` for a whole body,
`decode_event` for each SSE event, and the same per-call timeouts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from agent.llm import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STALL_TIMEOUT,
    Completion,
    StreamFold,
    _http,
    _plain_failure,
    _timeouts,
    decode_event,
    finish,
    from_raw,
    import_openai,
    stream_request,
)


def make_async_client(base_url: str, api_key: str, timeout: float = 600.0, *, connections: int = 100,
                      connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Any:
    """An `AsyncOpenAI` client whose pool keeps `connections` alive (one per sample in flight: the
    SDK's default keeps 100, so the others would reconnect for every call)."""
    openai = import_openai()
    httpx = sys.modules[openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]]  # httpx or httpx2
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                              timeout=openai.Timeout(timeout, connect=connect_timeout),
                              http_client=openai.DefaultAsyncHttpxClient(limits=limits))


_RAW_ASYNC_STREAM: Any = None


def _raw_async_stream(openai: Any, chunk_type: Any) -> Any:
    """The SDK's AsyncStream yielding plain dicts (see agent.llm._raw_stream for why)."""
    global _RAW_ASYNC_STREAM
    if _RAW_ASYNC_STREAM is None:
        class RawAsyncStream(openai.AsyncStream[chunk_type]):
            done = False

            async def __stream__(self):  # type: ignore[override]
                events = self._iter_events()
                try:
                    async for sse in events:
                        if sse.data.startswith("[DONE]"):
                            self.done = True
                            async for _ in events:  # the body's end: the connection goes back to the pool
                                pass
                            break
                        if (data := decode_event(openai, sse.data, self.response)) is not None:
                            yield data
                finally:
                    await self.response.aclose()

        _RAW_ASYNC_STREAM = RawAsyncStream
    return _RAW_ASYNC_STREAM


async def acomplete(
    client: Any,
    params: dict[str, Any],
    *,
    stream: bool = True,
    on_text: Callable[[str], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    deadline: float | None = None,
) -> Completion:
    """As `agent.llm.complete`; an interrupt is the caller cancelling this coroutine. `client` is an
    `AsyncOpenAI` or the lean `agent.wire.WireClient` (batch/aio.py picks)."""
    from agent.wire import WireClient

    if isinstance(client, WireClient):
        return await client.complete(params, stream=stream, on_text=on_text, on_reasoning=on_reasoning,
                                     stall_timeout=stall_timeout, deadline=deadline)
    openai = import_openai()
    from openai.types.chat import ChatCompletion

    started = time.perf_counter()
    timeout = _timeouts(client, stream, stall_timeout, deadline)
    body = stream_request(params) if stream else dict(params)
    body.update(body.pop("extra_body", None) or {})
    httpx = _http(client)
    try:
        if not stream:
            response = await client.post("/chat/completions", body=body, cast_to=httpx.Response,
                                         options={"timeout": timeout})
            result = from_raw(response.headers.get("content-type", ""), await response.aread())
        else:
            stream_obj = await client.post("/chat/completions", body=body, cast_to=ChatCompletion, stream=True,
                                           options={"timeout": timeout},
                                           stream_cls=_raw_async_stream(openai, _chunk_type()))
            content_type = stream_obj.response.headers.get("content-type", "")
            if "json" in content_type or "html" in content_type:  # a whole completion, or garbage
                try:
                    result = from_raw(content_type, await stream_obj.response.aread())
                finally:
                    await stream_obj.response.aclose()
            else:
                fold = StreamFold(params, started, on_text, on_reasoning)
                try:
                    async for chunk in stream_obj:
                        fold.feed(chunk)
                finally:
                    await stream_obj.response.aclose()
                result = fold.finish(content_type, stream_obj.done)
    except Exception as exc:
        raise _plain_failure(exc, timeout) from None
    return finish(result, started)


def _chunk_type() -> Any:
    from openai.types.chat import ChatCompletionChunk

    return ChatCompletionChunk
