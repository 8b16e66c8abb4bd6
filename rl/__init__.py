"""Online RL: run hermes' own agent as a rollout worker with exact tokens (issue 19, preview).

    from rl import RolloutSpec, TokenProxy, rollout, sglang_generate
    proxy = TokenProxy(tokenizer="path/to/tokenizer", generate=sglang_generate("http://127.0.0.1:30000"))
    result = await rollout(RolloutSpec(prompt="Make tests pass"), proxy=proxy, verify=my_verifier)

Modules: rl.types (dataclasses), rl.backends (generate backends), rl.tracker (token tracking),
rl.proxy (OpenAI-compatible loopback server), rl.runner (agent + sandbox + tokens + verifier);
framework glue: rl.atropos, rl.verl (verl agent loop), rl.skyrl (SkyRL generator).
Everything is imported on first use: importing hermes never loads this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "RolloutSpec": "rl.types", "RolloutResult": "rl.types", "TokenSequence": "rl.types",
    "CallTokens": "rl.types", "GenerateOutput": "rl.types",
    "TokenProxy": "rl.proxy", "TokenTracker": "rl.tracker",
    "sglang_generate": "rl.backends", "vllm_completions_generate": "rl.backends",
    "callable_generate": "rl.backends", "atropos_generate": "rl.backends", "verl_generate": "rl.backends",
    "skyrl_generate": "rl.backends",
    "Rollout": "rl.runner", "RolloutContext": "rl.runner", "rollout": "rl.runner",
    "rollout_sync": "rl.runner", "atropos_group": "rl.adapters", "verl_output": "rl.adapters",
    "HermesAgentLoop": "rl.verl", "HermesGenerator": "rl.skyrl",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rl' has no attribute {name!r}")
    return getattr(import_module(module), name)
