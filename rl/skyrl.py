"""A SkyRL generator whose trajectories are hermes' own agent (preview; imports skyrl when installed).

SkyRL (skyrl 0.3.0) asks its generator for a batch: `await generate(GeneratorInput) -> GeneratorOutput`.
`HermesGenerator` runs one hermes rollout per prompt, concurrently, each through a TokenProxy whose
backend is SkyRL's own inference client: `client.generate(InferenceEngineInput{prompt_token_ids=[ids],
sampling_params, session_ids=[trajectory id]})`, token ids in and out. Outputs are in input order:
prompt_token_ids, response_ids, loss_masks (1 = sampled by the policy), rollout_logprobs, rewards,
stop_reasons, trajectory_ids, per-trajectory times and env_metrics, and batch rollout_metrics.

Use it from SkyRL's entry point by returning it from `BasePPOExp.get_generator`:

    class HermesExp(BasePPOExp):
        def get_generator(self, cfg, tokenizer, inference_engine_client):
            return MyGenerator(inference_engine_client, tokenizer, toolsets=["terminal"], max_turns=10)

and override `score(ctx, env_class, extras)` for the reward (it may run commands in the rollout's
still-live sandbox: `await ctx.aexec("pytest -q")`).

A rollout with no token sequence or several still gives one row, never an exception that fails the
batch (rl/salvage.py: a masked-out placeholder with reward 0 and stop reason "error", or the last
sequence; `env_metrics` says which). Without skyrl installed this module still imports (the base
class is then a stand-in with GeneratorInterface's one method).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import statistics
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rl.backends import skyrl_generate
from rl.proxy import TokenProxy
from rl.runner import RolloutContext, rollout
from rl.salvage import filler_id, one_row, rendered_prompt
from rl.types import RolloutResult, RolloutSpec

SKYRL = importlib.util.find_spec("skyrl") is not None
if SKYRL:
    from skyrl.train.generators.base import GeneratorInterface
else:
    class GeneratorInterface:  # type: ignore[no-redef]
        """Stand-in for skyrl.train.generators.base.GeneratorInterface (skyrl is not installed)."""

        async def generate(self, input_batch: Any) -> Any:
            raise NotImplementedError

# SkyRL's (vLLM's) sampling names that hermes also sends in its requests (recorded in its logs).
_OPENAI_NAMES = ("temperature", "top_p", "top_k", "min_p", "seed", "stop", "max_tokens")


class HermesGenerator(GeneratorInterface):
    """One SkyRL trajectory = one hermes rollout through a TokenProxy over SkyRL's inference client."""

    def __init__(self, inference_engine_client: Any, tokenizer: Any, *, toolsets: list[str] | None = None,
                 max_turns: int = 10, tool_calls: str = "structured", terminal_backend: str | None = None,
                 system_prompt: str | None = None, threads: int = 128) -> None:
        self.client = inference_engine_client
        self.tokenizer = tokenizer
        self.toolsets = list(toolsets) if toolsets is not None else ["terminal"]
        self.max_turns = max_turns
        self.tool_calls = tool_calls
        self.terminal_backend = terminal_backend
        self.system_prompt = system_prompt
        # hermes' agent is blocking: one thread per live rollout (asyncio's default pool caps at 32)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hermes-rollout")

    # -- for researchers to override ---------------------------------------------------------------------
    def build_spec(self, prompt: list[dict[str, Any]], env_class: str, extras: dict[str, Any],
                   sampling_params: dict[str, Any] | None) -> RolloutSpec:
        """The hermes rollout for one prompt (a SkyRL conversation: a list of {role, content})."""
        messages = [dict(m) for m in prompt]
        system = self.system_prompt
        if messages and messages[0].get("role") == "system":  # hermes' system prompt takes its place
            row_system = messages.pop(0).get("content")
            system = system or row_system
        sampling = {k: sampling_params[k] for k in _OPENAI_NAMES if (sampling_params or {}).get(k) is not None}
        if sampling.get("top_k") == -1:
            del sampling["top_k"]
        return RolloutSpec(messages=messages, system_prompt=system, toolsets=list(self.toolsets),
                           max_turns=self.max_turns, sampling=sampling, terminal_backend=self.terminal_backend)

    async def score(self, ctx: RolloutContext, env_class: str, extras: dict[str, Any]) -> float:
        """The trajectory's reward, computed before its sandbox is cleaned up. Default: 0.0."""
        return 0.0

    # -- SkyRL ---------------------------------------------------------------------------------------------
    async def generate(self, input_batch: Any) -> Any:
        prompts = input_batch["prompts"]
        env_classes = input_batch.get("env_classes") or [""] * len(prompts)
        extras = input_batch.get("env_extras") or [{} for _ in prompts]
        sampling = input_batch.get("sampling_params")
        trajectory_ids = input_batch.get("trajectory_ids")
        specs = [self.build_spec(prompts[i], env_classes[i], extras[i] or {}, sampling) for i in range(len(prompts))]
        results = await asyncio.gather(*(
            self._one(specs[i], env_classes[i], extras[i] or {}, sampling, trajectory_ids[i] if trajectory_ids else None)
            for i in range(len(prompts))))
        return self.to_output(results, env_classes, trajectory_ids, sampling, specs)

    async def _one(self, spec: RolloutSpec, env_class: str, extras: dict[str, Any], sampling: dict[str, Any] | None,
                   trajectory_id: Any) -> RolloutResult:
        name = trajectory_id.to_string() if hasattr(trajectory_id, "to_string") else uuid.uuid4().hex[:12]
        spec.task_id = f"skyrl-{name}-{uuid.uuid4().hex[:6]}"
        proxy = TokenProxy(self.tokenizer, skyrl_generate(self.client, spec.task_id, sampling),
                           tool_calls=self.tool_calls, loop=asyncio.get_running_loop()).start()

        async def verify(ctx: RolloutContext) -> float:
            return await self.score(ctx, env_class, extras)

        try:
            return await rollout(spec, proxy=proxy, verify=verify, executor=self.executor)
        finally:
            await asyncio.to_thread(proxy.close)

    def to_output(self, results: list[RolloutResult], env_classes: list[str], trajectory_ids: Any,
                  sampling: dict[str, Any] | None, specs: list[RolloutSpec] | None = None) -> dict[str, Any]:
        """GeneratorOutput, one row per rollout in input order (rl/salvage.py: several sequences train
        the last; none gives a masked-out placeholder with reward 0 and stop reason "error", which
        SkyRL's overlong filtering and zero_reward_on_non_stop also treat as not trainable)."""
        want_logprobs = sampling is None or sampling.get("logprobs") is not None
        filler = functools.cache(lambda: filler_id(self.tokenizer))  # read once, and only for a placeholder
        rows = [one_row(r, fallback_prompt=(lambda s=spec: rendered_prompt(self.tokenizer, s) if s else []),
                        filler=filler, logprobs=want_logprobs)
                for r, spec in zip(results, specs or [None] * len(results), strict=True)]
        logprobs = [row.logprobs for row in rows]
        rewards = [0.0 if row.failed else float(r.reward or 0.0) for r, row in zip(results, rows, strict=True)]
        times = [float(r.metrics.get("seconds", 0.0)) for r in results]
        env_metrics = [{"status": r.status, "turns": r.metrics.get("turns", 0.0), "tool_calls": r.metrics.get("tool_calls", 0.0),
                        "env_class": c, **row.info()} for r, c, row in zip(results, env_classes, rows, strict=True)]
        responses = [row.response_ids for row in rows]
        return {
            "prompt_token_ids": [row.prompt_ids for row in rows],
            "response_ids": responses,
            "rewards": rewards,
            "loss_masks": [row.mask for row in rows],
            "stop_reasons": ["error" if row.failed else r.finish_reason or "stop" for r, row in zip(results, rows, strict=True)],
            "rollout_metrics": {
                "generate/avg_num_tokens": statistics.fmean(len(x) for x in responses),
                "generate/avg_reward": statistics.fmean(rewards),
                "hermes/success_rate": statistics.fmean(r.status == "success" for r in results),
                "hermes/avg_tool_calls": statistics.fmean(r.metrics.get("tool_calls", 0.0) for r in results),
                "hermes/avg_seconds": statistics.fmean(times),
                "hermes/failed_rollouts": float(sum(row.failed is not None for row in rows)),
                "hermes/multi_sequence_rollouts": float(sum(row.sequences > 1 for row in rows)),
            },
            # only when every trajectory has them (SkyRL takes all or none)
            "rollout_logprobs": logprobs if want_logprobs and all(lp is not None for lp in logprobs) else None,
            "trajectory_ids": list(trajectory_ids) if trajectory_ids else None,
            "trajectory_generation_times": times,
            "rollout_expert_indices": None,
            "is_last_step": None,
            "env_metrics": env_metrics,
        }
