"""One chat-completions call through the openai SDK, streamed or not, folded into a `Completion`.

The openai package is imported on first use: it costs about half a second, and paths that never
call a model (--version, --list-tools) must not pay for it.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent import cancel, lazy_sdk_types, unicode_text
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


_OPENAI: Any = None
_OPENAI_LOCK = threading.Lock()


def import_openai() -> Any:
    """Import the SDK without its optional aiohttp transport (~95 ms here; we use the sync client).

    The SDK falls back cleanly when aiohttp is missing; we hide it only for the duration of this
    import, so anything else (modal) still imports aiohttp normally later.

    Thread-safe: `openai` enters sys.modules as soon as its import *starts*, so a second thread
    (two agents built at once, e.g. rollouts started with asyncio.to_thread) must not take it from
    there; it waits on the lock until the first import has finished.
    """
    global _OPENAI
    if _OPENAI is not None:
        return _OPENAI
    with _OPENAI_LOCK:
        if _OPENAI is None:
            # Already imported (or being imported) by someone else: `import` waits for it to finish.
            hidden = "aiohttp" not in sys.modules and "openai" not in sys.modules
            if hidden:
                sys.modules["aiohttp"] = None  # type: ignore[assignment]
            lazy_sdk_types.install()  # the API's other ~400 model modules load only if used
            try:
                import openai
            finally:
                if hidden:
                    del sys.modules["aiohttp"]
            _OPENAI = openai
    return _OPENAI


DEFAULT_STALL_TIMEOUT = 30.0  # no byte for this long (first byte or between chunks): the attempt failed
DEFAULT_CONNECT_TIMEOUT = 10.0


class BadResponse(Exception):
    """A reply that is not an answer: an HTML page, a JSON document that is no completion, a cut
    or empty stream, unreadable chunks. The endpoint may do better next time, so it is retried."""

    retryable = True


class StallTimeout(BadResponse):
    """No byte arrived for the stall timeout (before the first byte or between chunks)."""


def make_client(base_url: str, api_key: str, timeout: float = 600.0, *,
                connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Any:
    """An SDK client. `timeout` bounds a non-streamed call given no deadline; `complete` sets the
    per-call stall and connect timeouts."""
    openai = import_openai()  # lazy: see module docstring

    # Our own retry loop honours Retry-After and reports progress, so the SDK's is off.
    client = openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=openai.Timeout(timeout, connect=connect_timeout),
    )
    cancel.install(client)  # an interrupt from another thread cuts a call, before its first byte too
    return client


def _http(client: Any) -> Any:
    """The HTTP library the client is built on (httpx, or httpx2 in newer openai releases)."""
    for cls in type(client._client).__mro__:
        if cls.__name__ in ("Client", "AsyncClient") and cls.__module__.startswith("httpx"):
            return sys.modules[cls.__module__.split(".")[0]]
    raise RuntimeError(f"unexpected HTTP client {type(client._client)!r}")


def _is(exc: BaseException, name: str) -> bool:
    """isinstance by class name, for either HTTP library's exceptions."""
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def _timeouts(client: Any, stream: bool, stall: float, deadline: float | None) -> Any:
    """Per-call httpx timeouts: streamed, no byte for `stall` s fails the attempt; non-streamed, the
    whole reply comes at the end, so it gets the rest of the deadline (else the client's timeout)."""
    httpx = _http(client)
    base = client.timeout if isinstance(client.timeout, httpx.Timeout) else httpx.Timeout(client.timeout)
    connect = base.connect if base.connect is not None else DEFAULT_CONNECT_TIMEOUT
    read = stall if stream else (base.read or 600.0)
    if deadline is not None:
        deadline = max(deadline, 0.001)
        read, connect = min(read, deadline) if stream else deadline, min(connect, deadline)
    return httpx.Timeout(base.write, connect=connect, read=read, pool=base.pool)


def _post(client: Any, params: dict[str, Any], *, stream: bool, timeout: Any = None) -> Any:
    """POST /chat/completions through the SDK's own client, minus `create()`'s request transform.

    `create()` walks every message with typing introspection on each call (~25 ms at 200 messages,
    growing with the conversation). Our messages are already plain JSON, so we send them as they
    are. A streamed reply comes back as our `RawStream`; a whole one as the raw `httpx.Response`,
    read as plain JSON by `_from_body` (no pydantic models, and garbage is caught, not half-parsed).
    Error statuses still raise the SDK's exceptions.
    """
    openai = import_openai()
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    body = dict(params)
    body.update(body.pop("extra_body", None) or {})
    options = {"timeout": timeout} if timeout is not None else {}
    return client.post(
        "/chat/completions", body=body, cast_to=ChatCompletion if stream else _http(client).Response, stream=stream, options=options,
        stream_cls=_raw_stream(openai, ChatCompletionChunk),
    )


_RAW_STREAM: Any = None


def _raw_stream(openai: Any, chunk_type: Any) -> Any:
    """The SDK's Stream, yielding each chunk as the plain dict the server sent.

    Two costs of the stock class go away: building pydantic models for every chunk (most of the
    client's CPU per streamed call; we read a handful of keys), and a new TCP (and TLS) connection
    per call: the sync SDK closes the response at `[DONE]` before the end of the chunked body, so
    httpx cannot pool the connection. We read the few remaining bytes first, as the async SDK does.
    Error payloads inside the stream still raise the SDK's `APIError`. `done` says whether `[DONE]`
    came (a stream cut short has neither it nor a finish_reason).
    """
    global _RAW_STREAM
    if _RAW_STREAM is None:
        class RawStream(openai.Stream[chunk_type]):
            done = False

            def __stream__(self):  # type: ignore[override]
                events = self._iter_events()
                try:
                    for sse in events:
                        if sse.data.startswith("[DONE]"):
                            self.done = True
                            for _ in events:
                                pass
                            break
                        if (data := decode_event(openai, sse.data, self.response)) is not None:
                            yield data
                finally:
                    self.response.close()

        _RAW_STREAM = RawStream
    return _RAW_STREAM


def decode_event(openai: Any, text: str, response: Any) -> dict[str, Any] | None:
    """One SSE event's data as a chunk; None for an empty one (keep-alive). An error event raises
    the SDK's `APIError`, garbage `BadResponse`."""
    data = parse_event(text)
    if data is not None and data.get("error"):
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(message or "An error occurred during streaming", request=response.request, body=error)
    return data


def parse_event(text: str) -> dict[str, Any] | None:
    """One SSE event's data as a JSON object (an error event included); None for an empty one
    (keep-alive); `BadResponse` for garbage. Shared with the lean client (agent/wire.py)."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadResponse(f"a stream event is not valid JSON ({_reason(exc)}): {_snippet(text)}") from None
    if not isinstance(data, dict):
        raise BadResponse(f"a stream event is not a JSON object: {_snippet(text)}")
    return data


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(":", 1)[0] if "digits" in str(exc) else str(exc)


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text[: limit * 4].split())
    return flat[:limit] + ("…" if len(flat) > limit else "")


def _without_none(value: Any) -> Any:
    """As pydantic's `model_dump(exclude_none=True)` would give it, for plain JSON."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise BadResponse(f"{what} is a {type(value).__name__}, not text")


class _ToolCallBuffer:
    """Tool calls stream as fragments keyed by index. Fragments are kept in lists and joined once:
    `+=` on a string held in a dict copies it every time, quadratic in the arguments' size."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}
        self.parts: dict[int, tuple[list[str], list[str]]] = {}  # index -> (name parts, argument parts)

    def add(self, fragment: dict[str, Any]) -> None:
        if not isinstance(fragment, dict):
            raise BadResponse("a streamed tool call is not a JSON object")
        index = fragment.get("index")
        if not isinstance(index, int):
            index = len(self.calls)
        if index not in self.calls:
            self.calls[index] = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            self.parts[index] = ([], [])
        call, (names, arguments) = self.calls[index], self.parts[index]
        if fragment.get("id"):
            call["id"] = str(fragment["id"])
        fn = fragment.get("function")
        if isinstance(fn, dict):
            if fn.get("name"):
                names.append(_as_text(fn["name"], "a tool call's name"))
            if (args := fn.get("arguments")) is not None and args != "":
                # Some servers send the arguments as an object, not a JSON string: encode it.
                arguments.append(args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))

    def result(self) -> list[dict[str, Any]]:
        calls = []
        for i in sorted(self.calls):
            call, (names, arguments) = self.calls[i], self.parts[i]
            call["function"]["name"] = unicode_text.clean("".join(names))
            call["function"]["arguments"] = unicode_text.clean("".join(arguments))
            calls.append(call)
        return calls


def ensure_call_ids(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each tool call without an id (or with one already used) one generated id: it is what the
    call is recorded and re-sent with and what its result answers, so strict endpoints accept both."""
    seen: set[str] = set()
    for call in calls:
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id or call_id in seen:
            call["id"] = call_id = f"call_{uuid.uuid4().hex[:24]}"
        seen.add(call_id)
    return calls


def complete(
    client: Any,
    params: dict[str, Any],
    *,
    stream: bool = True,
    on_text: Callable[[str], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
    interrupt: threading.Event | None = None,
    on_stream_open: Callable[[Any], None] | None = None,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    deadline: float | None = None,
) -> Completion:
    """Send one request and check that what came back is an answer.

    `stall_timeout`: seconds without a byte (before the first or between chunks) that fail the
    attempt with `StallTimeout`. `deadline`: seconds this attempt may wait for the reply to start
    (the caller's remaining retry budget). Raises the SDK's exceptions, `BadResponse` (both for the
    caller to retry) or `Interrupted`. With `interrupt`, `cancel.cut(interrupt)` from another thread
    ends the call at any point (agent/cancel.py); the caller then sees the error it caused.
    """
    started = time.perf_counter()
    timeout = _timeouts(client, stream, stall_timeout, deadline)
    try:
        with cancel.watching(interrupt):
            if not stream:
                response = _post(client, params, stream=False, timeout=timeout)
                result = _from_body(response)
            else:
                result = _stream(client, params, timeout, started, on_text, on_reasoning, interrupt, on_stream_open)
    except Exception as exc:
        raise _plain_failure(exc, timeout) from None
    return finish(result, started)


def finish(result: Completion, started: float) -> Completion:
    """What every completion gets before the loop sees it, from either client (agent/llm_async.py)."""
    result.tool_calls = ensure_call_ids(result.tool_calls)
    result.content = strip_end_of_turn(result.content)
    result.latency = time.perf_counter() - started
    return result


# End-of-turn markers of common chat templates. A proxy that decodes with special tokens (Atropos'
# ManagedServer with tools) hands the sampled one back as text; kept, it would be echoed in every
# later prompt, where the template adds its own: doubled (issue 19, H1). Not `</s>`: it also closes
# HTML strikethrough, which an answer may well end with.
_END_OF_TURN = re.compile(r"(?:\s*(?:<\|im_end\|>|<\|eot_id\|>|<\|eom_id\|>|<\|end\|>|<end_of_turn>|<\|endoftext\|>))+\s*\Z")


def strip_end_of_turn(content: str) -> str:
    """`content` without end-of-turn markup trailing it (the model's end token, leaked as text)."""
    if not content or not content.rstrip().endswith((">",)):
        return content
    return _END_OF_TURN.sub("", content)


def _plain_failure(exc: Exception, timeout: Any) -> Exception:
    """Timeouts and undecodable bytes as one clear `BadResponse`; anything else as it was."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if _is(cause, "ConnectTimeout"):
        return StallTimeout(f"could not connect within {timeout.connect:g}s")
    if _is(cause, "TimeoutException"):
        return StallTimeout(f"no data from the endpoint for {timeout.read:g}s (stall timeout)")
    if isinstance(exc, UnicodeDecodeError):
        return BadResponse(f"the reply is not valid UTF-8 (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r})")
    return exc


def _stream(client: Any, params: dict[str, Any], timeout: Any, started: float,
            on_text: Callable[[str], None] | None, on_reasoning: Callable[[str], None] | None,
            interrupt: threading.Event | None, on_stream_open: Callable[[Any], None] | None) -> Completion:
    request = stream_request(params)
    stream_obj = _post(client, request, stream=True, timeout=timeout)
    if on_stream_open:
        on_stream_open(stream_obj)
    content_type = stream_obj.response.headers.get("content-type", "")
    if "json" in content_type or "html" in content_type:  # not a stream: a whole completion, or garbage
        try:
            return _from_body(stream_obj.response)
        finally:
            stream_obj.response.close()
    fold = StreamFold(params, started, on_text, on_reasoning)
    try:
        for chunk in stream_obj:  # plain dicts (see _raw_stream)
            if interrupt is not None and interrupt.is_set():
                raise Interrupted("interrupted")
            fold.feed(chunk)
    finally:
        if interrupt is not None and interrupt.is_set():
            stream_obj.close()
    return fold.finish(content_type, getattr(stream_obj, "done", False))


def stream_request(params: dict[str, Any]) -> dict[str, Any]:
    request = dict(params, stream=True)
    request.setdefault("stream_options", {"include_usage": True})
    return request


class StreamFold:
    """Streamed chunks (plain dicts) folded into a `Completion`; shared by the sync and the async
    client (agent/llm_async.py), so both read a stream the same way."""

    def __init__(self, params: dict[str, Any], started: float, on_text: Callable[[str], None] | None,
                 on_reasoning: Callable[[str], None] | None) -> None:
        self.started, self.on_text, self.on_reasoning = started, on_text, on_reasoning
        self.result = Completion()
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.text_out, self.reasoning_out = unicode_text.SurrogateJoiner(), unicode_text.SurrogateJoiner()
        self.tools = _ToolCallBuffer()
        self.logprobs: list[dict[str, Any]] = []
        self.token_ids: list[int] = []
        self.saw_token_ids = self.saw_choice = False
        self.events = 0
        self.wants_logprobs = bool(params.get("logprobs"))

    def feed(self, chunk: dict[str, Any]) -> None:
        result = self.result
        self.events += 1
        if result.time_to_first_token is None:
            result.time_to_first_token = time.perf_counter() - self.started
        try:
            result.model = result.model or chunk.get("model")
            result.response_id = result.response_id or chunk.get("id")
            if (prompt_ids := chunk.get("prompt_token_ids")) is not None:
                result.prompt_token_ids = list(prompt_ids)
            if isinstance(chunk.get("usage"), dict):
                result.usage = _without_none(chunk["usage"])
            for choice in chunk.get("choices") or ():
                self.saw_choice = True
                delta = choice.get("delta")
                if delta:
                    if text := delta.get("reasoning") or delta.get("reasoning_content"):
                        self.reasoning.append(_as_text(text, "streamed reasoning"))
                        if self.on_reasoning and (shown := self.reasoning_out.feed(text)):
                            self.on_reasoning(shown)
                    if text := delta.get("content"):
                        self.content.append(_as_text(text, "streamed content"))
                        if self.on_text and (shown := self.text_out.feed(text)):
                            self.on_text(shown)
                    for fragment in delta.get("tool_calls") or ():
                        self.tools.add(fragment)
                if self.wants_logprobs and (entries := choice.get("logprobs")) is not None:
                    self.logprobs.extend(_without_none(item) for item in entries.get("content") or ())
                if (ids := choice.get("token_ids")) is not None:
                    self.saw_token_ids = True
                    self.token_ids.extend(ids)
                if choice.get("finish_reason"):
                    result.finish_reason = str(choice["finish_reason"])
        except (AttributeError, TypeError) as exc:  # a field of the wrong JSON type
            raise BadResponse(f"a stream chunk is malformed ({exc}): {_snippet(json.dumps(chunk))}") from None

    def finish(self, content_type: str, done: bool) -> Completion:
        """The completion, once the stream has ended (`done`: `[DONE]` came)."""
        result = self.result
        for out, emit in ((self.text_out, self.on_text), (self.reasoning_out, self.on_reasoning)):
            if emit and (rest := out.flush()):
                emit(rest)
        if not self.saw_choice:
            what = f"{self.events} chunks without a choice" if self.events else "no events"
            kind = content_type.split(";")[0] or "no content type"
            raise BadResponse(f"the endpoint answered 200 with {what} ({kind}); is --base-url an "
                              "OpenAI-compatible /v1 endpoint?")
        if result.finish_reason is None and not done:
            got = sum(map(len, self.content)) + sum(len(a) for _, parts in self.tools.parts.values() for a in parts)
            raise BadResponse(f"the stream ended before the reply was complete (no finish_reason or [DONE]; "
                              f"{got} characters received)")
        result.content = unicode_text.clean("".join(self.content))
        result.reasoning = unicode_text.clean("".join(self.reasoning)) or None
        result.tool_calls = self.tools.result()
        result.logprobs = self.logprobs if self.wants_logprobs else None
        result.completion_token_ids = self.token_ids if self.saw_token_ids else None
        return result


def _from_body(response: Any) -> Completion:
    """A whole (non-streamed) reply: a chat.completion object is the answer; anything else is not."""
    return from_raw(response.headers.get("content-type", ""), response.read())


def from_raw(content_type: str, raw: bytes) -> Completion:
    content_type = content_type.split(";")[0] or "no content type"
    if "html" in content_type or raw.lstrip()[:1] == b"<":
        title = re.search(rb"<title[^>]*>(.*?)</title>", raw[:4096], re.S | re.I)
        named = f" titled {_snippet(title.group(1).decode('utf-8', 'replace'), 60)!r}" if title else ""
        raise BadResponse(f"the endpoint answered with an HTML page{named}, not a chat completion; "
                          "check --base-url (it usually ends in /v1)")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadResponse(f"the reply is not valid JSON ({_reason(exc)}; {content_type}): "
                          f"{_snippet(raw.decode('utf-8', 'replace'))}") from None
    if isinstance(data, dict) and data.get("error"):
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise BadResponse(f"the endpoint answered 200 with an error: {_snippet(str(message), 200)}")
    try:
        return _from_dict(data)
    except (AttributeError, TypeError, KeyError, IndexError):
        pass
    raise BadResponse(f"the endpoint answered with a JSON document that is not a chat completion: "
                      f"{_snippet(json.dumps(data, ensure_ascii=False))}")


def _from_dict(data: dict[str, Any]) -> Completion:
    choice = data["choices"][0]
    message = choice["message"]
    if not isinstance(message, dict):
        raise TypeError("message")
    result = Completion(
        model=data.get("model"),
        response_id=data.get("id"),
        usage=_without_none(data["usage"]) if isinstance(data.get("usage"), dict) else None,
        finish_reason=choice.get("finish_reason"),
    )
    if (prompt_ids := data.get("prompt_token_ids")) is not None:
        result.prompt_token_ids = list(prompt_ids)
    result.content = unicode_text.clean(_as_text(message.get("content") or "", "the reply's content"))
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    result.reasoning = unicode_text.clean(_as_text(reasoning, "the reply's reasoning")) if reasoning else None
    calls = []
    for call in message.get("tool_calls") or []:
        call = _without_none(call)
        fn = call.setdefault("function", {})
        fn["name"] = unicode_text.clean(_as_text(fn.get("name") or "", "a tool call's name"))
        args = fn.get("arguments", "")
        fn["arguments"] = unicode_text.clean(args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))
        call.setdefault("type", "function")
        calls.append(call)
    result.tool_calls = calls
    if isinstance(lp := choice.get("logprobs"), dict):
        result.logprobs = [_without_none(entry) for entry in lp.get("content") or []]
    if (ids := choice.get("token_ids")) is not None:
        result.completion_token_ids = list(ids)
    if result.prompt_token_ids is None and (ids := choice.get("prompt_token_ids")) is not None:
        result.prompt_token_ids = list(ids)  # SGLang puts the prompt ids on each choice
    return result


def list_models(client: Any) -> list[str]:
    return [model.id for model in client.models.list()]
