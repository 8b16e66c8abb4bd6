"""A verl agent loop whose rollouts are hermes' own agent (preview; imports verl when installed).

verl (0.9.1) runs one `AgentLoopBase.run(sampling_params, **dataset_fields)` per sample in its
`AgentLoopWorker`s. `HermesAgentLoop` runs one hermes rollout there: the row's `raw_prompt` messages
go to hermes' `AIAgent` (its tools, sandbox and loop guards), every model call goes through a
TokenProxy whose backend is verl's own `server_manager.generate(request_id, prompt_ids=...,
sampling_params=...)` (one request_id per rollout: verl's sticky session), and the result comes back as
verl's `AgentLoopOutput` (prompt_ids, response_ids, 0/1 response_mask, response_logprobs,
reward_score, num_turns, metrics).

Select it per row with the dataset column `agent_name: hermes_agent`, and make it known to verl by
either importing this module in the workers (it registers itself with verl's `@register`) or listing
it in the file given by `actor_rollout_ref.rollout.agent.agent_loop_config_path` (rl/verl_agent_loop.yaml).
Options come from that YAML entry (hydra passes its keys to the constructor) or a subclass's class
attributes: toolsets, max_turns, max_tokens, tool_calls, terminal_backend, system_prompt, threads,
prompt_key, reward_fn. The reward: override `score(ctx, **fields)` (it may run commands in the
rollout's still-live sandbox with `await ctx.aexec(...)`), or name a function with `reward_fn`; None
leaves the row to verl's own reward function.

A rollout that produced no token sequence (its engine failed, it never started) or several (a
rewritten history) still gives one row, never an exception that fails verl's whole step: a masked-out
placeholder with reward 0, or the last sequence (rl/salvage.py; `extra_fields["hermes"]` says which).

Without verl installed this module still imports (for documentation and tests): the base class is
then a stand-in with verl's constructor signature, and `run` returns `LoopOutput`, a dataclass with
AgentLoopOutput's fields.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rl.backends import verl_generate
from rl.proxy import TokenProxy
from rl.runner import RolloutContext, rollout
from rl.salvage import filler_id, one_row, rendered_prompt
from rl.types import GenerateOutput, RolloutResult, RolloutSpec

VERL = importlib.util.find_spec("verl") is not None
if VERL:  # installed: the real base class, output models and registry (an import error here is real)
    from verl.experimental.agent_loop.agent_loop import (
        AgentLoopBase,
        AgentLoopMetrics,
        AgentLoopOutput,
        register,
    )
else:
    class AgentLoopBase:  # type: ignore[no-redef]
        """Stand-in with verl 0.9.1's constructor signature (verl is not installed)."""

        def __init__(self, trainer_config: Any, server_manager: Any, tokenizer: Any, processor: Any = None,
                     dataset_cls: Any = None, data_config: Any = None, hf_model_type: str | None = None,
                     **kwargs: Any) -> None:
            self.config = trainer_config.config
            self.rollout_config = self.config.actor_rollout_ref.rollout
            self.server_manager = server_manager
            self.tokenizer = tokenizer
            self.processor = processor
            self.dataset_cls = dataset_cls
            self.data_config = getattr(data_config, "config", data_config)

    def register(agent_name: str) -> Any:  # type: ignore[no-redef]
        return lambda cls: cls

    AgentLoopMetrics = AgentLoopOutput = None  # type: ignore[assignment,misc]

# Constructor keywords that configure hermes (the YAML entry's keys besides name and _target_).
OPTIONS = ("toolsets", "max_turns", "max_tokens", "tool_calls", "terminal_backend", "system_prompt", "threads",
           "prompt_key", "reward_fn")

_executors: dict[int, ThreadPoolExecutor] = {}


def _executor(threads: int) -> ThreadPoolExecutor:
    """One pool per size per worker process: hermes' agent is blocking, one thread per live rollout
    (asyncio's default pool would cap a worker at min(32, cpus + 4) concurrent rollouts)."""
    if threads not in _executors:
        _executors[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hermes-rollout")
    return _executors[threads]


def _plain(value: Any) -> Any:
    """OmegaConf containers from the YAML as plain lists and dicts."""
    if hasattr(value, "items") and not isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict, list)):
        return [_plain(v) for v in value]
    return value


def _resolve(path: str) -> Any:
    """`package.module:function` (or `package.module.function`) as the object it names."""
    module, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"reward_fn={path!r}: cannot import it ({exc}); use package.module:function") from None


@dataclass
class LoopOutput:
    """AgentLoopOutput's fields, returned when verl is not installed."""

    prompt_ids: list[int]
    response_ids: list[int]
    response_mask: list[int]
    metrics: dict[str, Any]
    response_logprobs: list[float] | None = None
    reward_score: float | None = None
    num_turns: int = 0
    extra_fields: dict[str, Any] = field(default_factory=dict)


@register("hermes_agent")
class HermesAgentLoop(AgentLoopBase):
    """One verl sample = one hermes rollout through a TokenProxy over verl's server manager."""

    toolsets: tuple[str, ...] | list[str] = ("terminal",)
    max_turns: int = 10
    max_tokens: int | None = None  # per model call; None: what is left of verl's response_length
    tool_calls: str = "structured"
    terminal_backend: str | None = None  # None: the configured terminal.backend
    system_prompt: str | None = None  # None: the row's system message, else hermes' own
    threads: int = 128
    prompt_key: str = "raw_prompt"
    reward_fn: str | None = None

    def __init__(self, trainer_config: Any, server_manager: Any, tokenizer: Any, processor: Any = None,
                 dataset_cls: Any = None, data_config: Any = None, **kwargs: Any) -> None:
        options = {key: _plain(kwargs.pop(key)) for key in OPTIONS if key in kwargs}
        super().__init__(trainer_config, server_manager, tokenizer, processor, dataset_cls, data_config, **kwargs)
        for key, value in options.items():
            setattr(self, key, value)
        if self.tool_calls not in ("structured", "text"):
            raise ValueError(f"tool_calls={self.tool_calls!r}: use structured or text")
        self.prompt_length = getattr(self.rollout_config, "prompt_length", None)
        self.response_length = getattr(self.rollout_config, "response_length", None)

    # -- for researchers to override ---------------------------------------------------------------------
    def prompt_messages(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """The chat messages of a dataset row (verl's `raw_prompt`: a list of {role, content})."""
        value = fields.get(self.prompt_key)
        if value is None:
            raise ValueError(f"the dataset row has no {self.prompt_key!r} column (columns: {', '.join(sorted(fields))}); "
                             "set prompt_key or override prompt_messages()")
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        return [dict(message) for message in value]

    def build_spec(self, sampling_params: dict[str, Any], **fields: Any) -> RolloutSpec:
        """The hermes rollout for one row. Sampling: verl's temperature/top_p/top_k (its own
        sampling_params reach the server as they are; these are what hermes records)."""
        messages = self.prompt_messages(fields)
        system = self.system_prompt
        if messages and messages[0].get("role") == "system":  # hermes' system prompt takes its place
            row_system = messages.pop(0).get("content")
            system = system or row_system
        sampling = {k: sampling_params[k] for k in ("temperature", "top_p", "top_k") if sampling_params.get(k) is not None}
        if sampling.get("top_k") == -1:
            del sampling["top_k"]  # verl's "no top-k"
        if self.max_tokens:
            sampling["max_tokens"] = int(self.max_tokens)
        return RolloutSpec(messages=messages, system_prompt=system, toolsets=list(self.toolsets),
                           max_turns=int(self.max_turns), sampling=sampling, terminal_backend=self.terminal_backend,
                           task_id=f"verl-{uuid.uuid4().hex[:12]}")

    async def score(self, ctx: RolloutContext, **fields: Any) -> float | None:
        """The rollout's reward, computed before its sandbox is cleaned up (`await ctx.aexec("pytest -q")`),
        from the row's fields (e.g. `fields["reward_model"]["ground_truth"]`). Default: `reward_fn`
        if set, else None: verl's own reward function scores the row."""
        if not self.reward_fn:
            return None
        value = _resolve(self.reward_fn)(ctx, **fields)
        return await value if inspect.isawaitable(value) else value

    # -- verl ---------------------------------------------------------------------------------------------
    async def run(self, sampling_params: dict[str, Any], **fields: Any) -> Any:
        spec = self.build_spec(dict(sampling_params), **fields)
        timing = {"generate": 0.0}
        proxy = TokenProxy(self.tokenizer, self._generate(spec.task_id, dict(sampling_params), timing),
                           tool_calls=self.tool_calls, loop=asyncio.get_running_loop()).start()
        reward: dict[str, float | None] = {}

        async def verify(ctx: RolloutContext) -> float:
            reward["value"] = value = await self.score(ctx, **fields)
            return 0.0 if value is None else float(value)

        try:
            result = await rollout(spec, proxy=proxy, verify=verify, executor=_executor(int(self.threads)))
        finally:
            await asyncio.to_thread(proxy.close)
        if reward.get("value") is None:
            result.reward = None  # verl's reward function scores it
        return self.to_output(result, timing["generate"], spec, logprobs=bool(sampling_params.get("logprobs")))

    def _generate(self, request_id: str, sampling_params: dict[str, Any], timing: dict[str, float]) -> Any:
        """verl's server manager as the proxy's backend, within verl's response_length: each call may
        sample at most what is left, and once nothing is left a call samples nothing (hermes then stops)."""
        backend = verl_generate(self.server_manager, request_id, sampling_params)
        first: list[int] = []

        async def generate(prompt_ids: list[int], sampling: dict[str, Any]) -> GenerateOutput:
            if not first:
                first.append(len(prompt_ids))
            sampling = dict(sampling)
            if self.response_length:
                left = int(self.response_length) - (len(prompt_ids) - first[0])
                if left <= 0:
                    return GenerateOutput([], [] if sampling_params.get("logprobs") else None, "length")
                sampling["max_tokens"] = min(int(sampling.get("max_tokens") or left), left)
            started = time.perf_counter()
            try:
                return await backend(prompt_ids, sampling)
            finally:
                timing["generate"] += time.perf_counter() - started
        return generate

    def to_output(self, result: RolloutResult, generate_seconds: float, spec: RolloutSpec | None = None,
                  logprobs: bool = False) -> Any:
        """The rollout as verl's AgentLoopOutput, cut to response_length like verl's own loops. Always
        one row (rl/salvage.py): several sequences train the last whose prompt fits prompt_length; none
        gives a masked-out placeholder with reward 0 (with logprobs when verl asked for them: it
        stacks all rows' or none); `extra_fields["hermes"]` says which."""
        limit = int(self.prompt_length) if self.prompt_length else None
        sequences = result.policy_sequences
        if limit and sequences and all(seq.prompt_len > limit for seq in sequences):
            raise ValueError(f"hermes' first prompt (system prompt, tools and the row's messages) has "
                             f"{sequences[0].prompt_len} tokens; actor_rollout_ref.rollout.prompt_length is "
                             f"{self.prompt_length}: raise data.max_prompt_length, or give hermes fewer toolsets or "
                             "a shorter system_prompt")
        row = one_row(result, fallback_prompt=lambda: rendered_prompt(self.tokenizer, spec) if spec else [],
                      filler=lambda: filler_id(self.tokenizer), logprobs=logprobs,
                      fits=lambda seq: not limit or seq.prompt_len <= limit)
        prompt_ids = row.prompt_ids[-limit:] if limit else row.prompt_ids  # only a placeholder's can be longer
        cut = int(self.response_length) if self.response_length else None
        reward = 0.0 if row.failed else result.reward
        metrics = {"generate_sequences": round(generate_seconds, 4), "tool_calls": result.metrics.get("tool_calls", 0.0),
                   "compute_score": result.metrics.get("verify_seconds", 0.0), "num_preempted": -1}
        fields = dict(prompt_ids=prompt_ids, response_ids=row.response_ids[:cut], response_mask=row.mask[:cut],
                      response_logprobs=None if row.logprobs is None else row.logprobs[:cut],
                      reward_score=reward, num_turns=sum(1 for m in result.messages
                                                         if m.get("role") in ("user", "assistant", "tool")),
                      extra_fields={"hermes": {"task_id": result.task_id, "status": result.status,
                                               "error": result.error, "api_calls": result.metrics.get("api_calls"),
                                               "token_source": result.token_source, **row.info()}})
        if AgentLoopOutput is None:
            return LoopOutput(metrics=metrics, **fields)
        return AgentLoopOutput(metrics=AgentLoopMetrics(**metrics), **fields)
