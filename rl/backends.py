"""Token-in/token-out generate backends behind the proxy: `generate(prompt_ids, sampling) -> GenerateOutput`.

A backend is any callable taking the prompt's token ids and a sampling dict in OpenAI names
(max_tokens, temperature, top_p, top_k, seed, stop, ...) and returning a `GenerateOutput` (or an
`(ids, logprobs, finish_reason)` tuple); it may be a coroutine function (verl's
`server_manager.generate`, SkyRL's inference client, atroposlib's server manager wrap that way) and
then runs on the event loop the proxy was given. Built in: SGLang's native `/generate` and vLLM's
`/v1/completions` with token-id prompts and `return_token_ids`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from rl.types import GenerateOutput

Generate = Callable[[list[int], dict[str, Any]], "GenerateOutput | tuple | Awaitable[GenerateOutput | tuple]"]

# OpenAI request fields that are sampling parameters (passed through to the backend).
SAMPLING_KEYS = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed",
                 "stop", "presence_penalty", "frequency_penalty", "repetition_penalty", "n")


class BackendError(RuntimeError):
    """The generate backend failed or answered something unreadable; the message says what."""


def sampling_from_request(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters of a chat-completions request, in OpenAI names."""
    sampling = {k: body[k] for k in SAMPLING_KEYS if body.get(k) is not None}
    if "max_completion_tokens" in sampling:
        sampling.setdefault("max_tokens", sampling.pop("max_completion_tokens"))
    if isinstance(sampling.get("stop"), str):
        sampling["stop"] = [sampling["stop"]]
    return sampling


def as_output(value: Any) -> GenerateOutput:
    """A backend's answer as a GenerateOutput (tuples accepted), checked for shape."""
    if isinstance(value, tuple) and len(value) == 3:
        value = GenerateOutput(list(value[0]), None if value[1] is None else list(value[1]), str(value[2]))
    if not isinstance(value, GenerateOutput):
        raise BackendError(f"generate returned {type(value).__name__}, expected GenerateOutput or (ids, logprobs, finish)")
    if not all(isinstance(i, int) for i in value.ids):
        raise BackendError("generate returned token ids that are not integers")
    if value.logprobs is not None and len(value.logprobs) != len(value.ids):
        raise BackendError(f"generate returned {len(value.logprobs)} logprobs for {len(value.ids)} tokens")
    return value


def is_async(generate: Any) -> bool:
    """A coroutine function, or an object whose __call__ is one."""
    return inspect.iscoroutinefunction(generate) or inspect.iscoroutinefunction(type(generate).__call__)


def callable_generate(fn: Callable[..., Any]) -> Generate:
    """Any framework's generate as a backend; `fn(prompt_ids, sampling)` may be sync or async and
    may return a GenerateOutput, an (ids, logprobs, finish) tuple, or an object with `token_ids`,
    `log_probs` and `stop_reason` (verl's TokenOutput)."""
    if is_async(fn):
        async def agen(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
            return _convert(await fn(prompt_ids, sampling))
        return agen

    def gen(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        return _convert(fn(prompt_ids, sampling))
    return gen


def _convert(value: Any) -> GenerateOutput:
    if hasattr(value, "token_ids") and not isinstance(value, (tuple, GenerateOutput)):
        stop = getattr(value, "stop_reason", None) or getattr(value, "finish_reason", None)
        finish = "length" if stop in ("length", "max_tokens") else "stop"
        logprobs = getattr(value, "log_probs", None) or getattr(value, "logprobs", None)
        value = GenerateOutput(list(value.token_ids), None if logprobs is None else list(logprobs), finish)
    return as_output(value)


class _HTTPBackend:
    """Shared HTTP plumbing: one pooled httpx client, loopback or remote."""

    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        try:
            response = self._client.post(self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.url}{path}: {exc or type(exc).__name__}") from None
        if response.status_code != 200:
            raise BackendError(f"{self.url}{path} answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError:
            raise BackendError(f"{self.url}{path} answered non-JSON: {response.text[:200]}") from None
        if not isinstance(data, dict):
            raise BackendError(f"{self.url}{path} answered a JSON {type(data).__name__}, not an object")
        return data

    def close(self) -> None:
        self._client.close()


class SGLangGenerate(_HTTPBackend):
    """SGLang's native `POST /generate` with `input_ids` (token in, token out, with logprobs)."""

    def __call__(self, prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        params: dict[str, Any] = {}
        for key, value in sampling.items():
            if key == "max_tokens":
                params["max_new_tokens"] = value
            elif key == "seed":
                params["sampling_seed"] = value
            elif key != "n":
                params[key] = value
        data = self._post("/generate", {"input_ids": prompt_ids, "sampling_params": params, "return_logprob": True})
        meta = data.get("meta_info") or {}
        entries = meta.get("output_token_logprobs") or []
        try:
            ids = list(data["output_ids"]) if data.get("output_ids") is not None else [int(e[1]) for e in entries]
            logprobs = [float(e[0]) for e in entries] if entries else None
        except (TypeError, ValueError, IndexError, KeyError):
            raise BackendError(f"{self.url}/generate: unreadable output_ids / output_token_logprobs") from None
        finish = meta.get("finish_reason")
        kind = finish.get("type") if isinstance(finish, dict) else finish
        return as_output(GenerateOutput(ids, logprobs, "length" if kind == "length" else "stop"))


class VLLMCompletionsGenerate(_HTTPBackend):
    """vLLM's `POST /v1/completions` with the prompt as token ids and `return_token_ids`."""

    def __init__(self, url: str, model: str, timeout: float) -> None:
        super().__init__(url, timeout)
        self.model = model

    def __call__(self, prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        body = {"model": self.model, "prompt": prompt_ids, "logprobs": 0, "return_token_ids": True,
                "skip_special_tokens": False, **{k: v for k, v in sampling.items() if k != "n"}}
        data = self._post("/v1/completions", body)
        try:
            choice = data["choices"][0]
            ids = [int(i) for i in choice["token_ids"]]
            lp = choice.get("logprobs") or {}
            logprobs = [float(x) for x in lp["token_logprobs"]] if lp.get("token_logprobs") is not None else None
        except (KeyError, IndexError, TypeError, ValueError):
            raise BackendError(f"{self.url}/v1/completions: no choices[0].token_ids "
                               "(is this vLLM with return_token_ids support?)") from None
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return as_output(GenerateOutput(ids, logprobs, finish))


def sglang_generate(url: str, *, timeout: float = 600.0) -> SGLangGenerate:
    """A backend over SGLang's native /generate at `url` (the server root, not /v1)."""
    return SGLangGenerate(url, timeout)


def vllm_completions_generate(url: str, model: str, *, timeout: float = 600.0) -> VLLMCompletionsGenerate:
    """A backend over vLLM's /v1/completions at `url` (the server root, not /v1) serving `model`."""
    return VLLMCompletionsGenerate(url, model, timeout)


# -- RL frameworks' inference clients (duck-typed: nothing here imports the framework) -----------------
def _finish(kind: Any, ids: list[int], sampling: dict[str, Any]) -> str:
    kind = kind.get("type") if isinstance(kind, dict) else kind
    limit = sampling.get("max_tokens")
    return "length" if kind == "length" or (kind is None and limit and len(ids) >= limit) else "stop"


def atropos_generate(server_manager: Any) -> Generate:
    """atroposlib's `ServerManager` (sglang or its vLLM server type): `tokens_and_logprobs_completion`."""
    async def generate(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        kwargs = {k: v for k, v in sampling.items() if k != "n"}
        _, outputs, logprobs, finishes = await server_manager.tokens_and_logprobs_completion(
            input_ids=list(prompt_ids), n=1, **kwargs)
        ids = [int(i) for i in outputs[0]]
        lps = logprobs[0] if logprobs else None
        return as_output(GenerateOutput(ids, None if lps is None else [float(x) for x in lps],
                                        _finish(finishes[0] if finishes else None, ids, sampling)))
    return generate


def verl_generate(server_manager: Any, request_id: str, sampling_params: dict[str, Any] | None = None) -> Generate:
    """verl's `AsyncLLMServerManager.generate(request_id, prompt_ids=, sampling_params=)` -> TokenOutput;
    `request_id` is its sticky-session key: one per rollout. `sampling_params`: the trainer's own
    (verl's temperature, top_p, top_k, logprobs, ...); they win over the agent request's."""
    async def generate(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        params = {**{k: v for k, v in sampling.items() if k != "n"}, **(sampling_params or {})}
        out = await server_manager.generate(request_id, prompt_ids=list(prompt_ids), sampling_params=params)
        ids = [int(i) for i in out.token_ids]
        lps = getattr(out, "log_probs", None)
        stop = getattr(out, "stop_reason", None)
        return as_output(GenerateOutput(ids, None if lps is None else [float(x) for x in lps],
                                        _finish(None if stop == "completed" else stop, ids, params)))
    return generate


def skyrl_generate(client: Any, session_id: str, sampling_params: dict[str, Any] | None = None) -> Generate:
    """SkyRL's `InferenceEngineClient.generate(InferenceEngineInput)` with token ids in and out.
    `sampling_params`: the batch's (backend names, e.g. vLLM's); they win over the agent request's.
    With neither, None goes to the engine, which then samples with its configured defaults."""
    async def generate(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
        params = {**{k: v for k, v in sampling.items() if k != "n"}, **(sampling_params or {})} or None
        out = await client.generate({"prompt_token_ids": [list(prompt_ids)], "sampling_params": params,
                                     "session_ids": [session_id]})
        ids = [int(i) for i in out["response_ids"][0]]
        lps = (out.get("response_logprobs") or [None])[0]
        return as_output(GenerateOutput(ids, None if lps is None else [float(x) for x in lps],
                                        _finish((out.get("stop_reasons") or [None])[0], ids, params or {})))
    return generate
