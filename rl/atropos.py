"""An Atropos environment whose rollouts are hermes' own agent (preview; imports atroposlib).

Subclass `HermesEnv`, override `get_item()` (the next task), optionally `build_spec(item)` and
`score(item, ctx)` (the reward; `await ctx.aexec("pytest -q")` runs in the rollout's sandbox) and
`eval_items()` (tasks for `evaluate` mode: metrics.json and samples.jsonl), and
run it with atroposlib's CLI: `python my_env.py process|serve|evaluate --env.tokenizer_name DIR
--openai.server_type sglang --openai.base_url URL ...`. Each group is `group_size` rollouts of one
item through a TokenProxy over atroposlib's own server manager, built by rl.adapters.atropos_group
(every policy sequence, real `inference_logprobs`: BaseEnv's default grouping drops them).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from agent import lazy_sdk_types

# atroposlib's BaseEnv imports wandb at its top but calls it only with --env.use_wandb true: its
# package index (~0.3-0.6 CPU-s, ~330 modules) runs on first use (wandb.init), not for every run.
lazy_sdk_types.defer_package("wandb")

from atroposlib.envs.base import APIServerConfig, BaseEnv, BaseEnvConfig  # noqa: E402
from pydantic import Field  # noqa: E402

from agent.errors import ConfigError  # noqa: E402
from rl.adapters import atropos_group  # noqa: E402
from rl.backends import atropos_generate  # noqa: E402
from rl.proxy import TokenProxy  # noqa: E402
from rl.runner import RolloutContext, rollout  # noqa: E402
from rl.types import RolloutSpec  # noqa: E402


class HermesEnvConfig(BaseEnvConfig):
    toolsets: list[str] = Field(default_factory=lambda: ["terminal"], description="hermes toolsets the agent gets")
    max_turns: int = Field(default=10, description="model calls per rollout at most")
    max_tokens: int = Field(default=1024, description="sampled tokens per model call at most")
    temperature: float = Field(default=1.0, description="sampling temperature")
    tool_calls: str = Field(default="structured", description="structured or text tool calls from the proxy")
    terminal_backend: str | None = Field(default=None, description="terminal backend (local, docker, ...)")


class HermesEnv(BaseEnv):
    name = "hermes"
    env_config_cls = HermesEnvConfig

    @classmethod
    def config_init(cls) -> tuple[HermesEnvConfig, list[APIServerConfig]]:
        # the CLI's --env.* flags come from this object's class: a subclass's config_cls adds its own
        # token-in servers (SGLang, atroposlib's vLLM) take no key, but atroposlib's client needs one
        return cls.env_config_cls(use_wandb=False), [APIServerConfig(model_name="policy", server_type="sglang",
                                                                     api_key="none")]

    def __init__(self, config: HermesEnvConfig, server_configs: Any, *args: Any, **kwargs: Any) -> None:
        # atroposlib loads the server's tokenizer by --openai.model_name unless --openai.tokenizer_name
        # says otherwise; the policy's tokenizer is the env's own (--env.tokenizer_name)
        for server in server_configs if isinstance(server_configs, list) else []:
            if getattr(server, "tokenizer_name", None) == "none":
                server.tokenizer_name = config.tokenizer_name
        try:
            super().__init__(config, server_configs, *args, **kwargs)
        except OSError as exc:  # transformers could not load a tokenizer: a flag to fix, not a crash
            if not any("/transformers/" in frame.filename for frame in traceback.extract_tb(exc.__traceback__)):
                raise
            names = sorted({config.tokenizer_name} | {getattr(s, "tokenizer_name", None) or config.tokenizer_name
                                                       for s in server_configs if not isinstance(s, str)}
                           if isinstance(server_configs, list) else {config.tokenizer_name})
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot load the tokenizer ({', '.join(map(repr, names))}; --env.tokenizer_name / "
                              f"--openai.tokenizer_name: a local directory or a Hugging Face name): {first}") from None

    # -- for researchers to override ---------------------------------------------------------------------
    async def get_item(self) -> Any:
        """The next task (any object `build_spec` understands)."""
        raise NotImplementedError("HermesEnv subclasses return their next task from get_item()")

    def build_spec(self, item: Any) -> RolloutSpec:
        prompt = item.get("prompt") if isinstance(item, dict) else str(item)
        config = self.config
        return RolloutSpec(prompt=prompt, toolsets=list(config.toolsets), max_turns=config.max_turns,
                           sampling={"max_tokens": config.max_tokens, "temperature": config.temperature},
                           terminal_backend=config.terminal_backend)

    async def score(self, item: Any, ctx: RolloutContext) -> float:
        """The reward of one rollout, computed in its still-live sandbox (default: 0.0)."""
        return 0.0

    # -- BaseEnv ------------------------------------------------------------------------------------------
    async def setup(self) -> None:
        self.proxy = TokenProxy(self.config.tokenizer_name, atropos_generate(self.server),
                                tool_calls=self.config.tool_calls).start()

    async def get_next_item(self) -> Any:
        return await self.get_item()

    async def collect_trajectories(self, item: Any) -> tuple[dict[str, Any] | None, list[Any]]:
        async def verify(ctx: RolloutContext) -> float:
            return await self.score(item, ctx)

        results = await asyncio.gather(*(rollout(self.build_spec(item), proxy=self.proxy, verify=verify)
                                         for _ in range(self.config.group_size)))
        usable = [r for r in results if r.policy_sequences]
        if not usable:
            return None, []
        return atropos_group(usable), []

    async def eval_items(self) -> list[Any]:
        """Tasks for `evaluate` mode (one rollout each, scored by `score`); default: none."""
        return []

    async def evaluate(self, *args: Any, **kwargs: Any) -> None:
        items = await self.eval_items()
        if not items:
            return
        started = time.time()

        async def one(item: Any) -> Any:
            async def verify(ctx: RolloutContext) -> float:
                return await self.score(item, ctx)
            return await rollout(self.build_spec(item), proxy=self.proxy, verify=verify)

        results = await asyncio.gather(*(one(item) for item in items))
        rewards = [r.reward or 0.0 for r in results]
        samples = [{"item": item if isinstance(item, (dict, str)) else str(item), "status": r.status,
                    "final_response": r.final_response, "reward": r.reward, **r.metrics}
                   for item, r in zip(items, results, strict=True)]
        await self.evaluate_log(metrics={"eval/mean_reward": sum(rewards) / len(rewards),
                                         "eval/success_rate": sum(r.status == "success" for r in results) / len(results)},
                                start_time=started, end_time=time.time(), samples=samples, verbose=False)
