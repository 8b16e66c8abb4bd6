"""Framework inference clients as proxy backends: atroposlib's real ServerManager (sglang server type)
against the SGLang stand-in; verl's and SkyRL's clients by their documented call shapes."""

from __future__ import annotations

import asyncio
import importlib.util
from types import SimpleNamespace

import pytest
from standin import StandIn, tool_then_answer

from rl.backends import atropos_generate, skyrl_generate, verl_generate
from rl.proxy import TokenProxy
from rl.runner import rollout
from rl.types import RolloutSpec


@pytest.mark.skipif(importlib.util.find_spec("atroposlib") is None, reason="atroposlib is not installed (dev extra)")
def test_atroposlib_server_manager_behind_the_proxy(tokenizer_dir, chat_tokenizer):
    from atroposlib.envs.server_handling.server_baseline import APIServerConfig
    from atroposlib.envs.server_handling.server_manager import ServerManager

    standin = StandIn(chat_tokenizer, tool_then_answer).start()

    async def main():
        manager = ServerManager([APIServerConfig(model_name="policy", base_url=standin.url + "/v1", api_key="x",
                                                 server_type="sglang", tokenizer_name=str(tokenizer_dir),
                                                 health_check=False, timeout=30)])
        with TokenProxy(tokenizer_dir, atropos_generate(manager)) as proxy:
            return await rollout(RolloutSpec(prompt="What is 6*7? Use the terminal.", stream=False,
                                             sampling={"max_tokens": 200, "temperature": 1.0}), proxy=proxy)
    try:
        result = asyncio.run(main())
    finally:
        standin.close()
    assert result.status == "success" and result.final_response == "The answer is 42.", result.error
    seq = result.sequences[0]
    assert [t for t, m in zip(seq.tokens, seq.mask, strict=True) if m] == \
        [i for r in standin.requests for i in r["output_ids"]]
    assert standin.requests[0]["sampling"]["max_new_tokens"] == 200  # atroposlib's own renaming


def _ids(chat_tokenizer, text: str) -> list[int]:
    return chat_tokenizer.encode(text) + [chat_tokenizer.backend.token_to_id("<|im_end|>")]


def test_verl_and_skyrl_clients_by_their_call_shapes(tokenizer_dir, chat_tokenizer):
    calls = []

    class VerlServerManager:  # AsyncLLMServerManager.generate(request_id, *, prompt_ids, sampling_params)
        async def generate(self, request_id, *, prompt_ids, sampling_params):
            calls.append(("verl", request_id, sampling_params))
            ids = _ids(chat_tokenizer, "verl ok")
            return SimpleNamespace(token_ids=ids, log_probs=[-0.25] * len(ids), stop_reason="completed")

    class SkyRLClient:  # InferenceEngineClient.generate(InferenceEngineInput) -> InferenceEngineOutput
        async def generate(self, engine_input):
            assert set(engine_input) == {"prompt_token_ids", "sampling_params", "session_ids"}
            calls.append(("skyrl", engine_input["session_ids"][0], engine_input["sampling_params"]))
            ids = _ids(chat_tokenizer, "skyrl ok")
            return {"responses": ["skyrl ok"], "response_ids": [ids], "stop_reasons": ["stop"],
                    "response_logprobs": [[-0.5] * len(ids)]}

    async def main():
        out = []
        for generate in (verl_generate(VerlServerManager(), "req-1"), skyrl_generate(SkyRLClient(), "sess-1")):
            with TokenProxy(tokenizer_dir, generate) as proxy:
                out.append(await rollout(RolloutSpec(prompt="hi", toolsets=[], sampling={"temperature": 0.5}),
                                         proxy=proxy))
        return out

    verl, skyrl = asyncio.run(main())
    assert (verl.final_response, skyrl.final_response) == ("verl ok", "skyrl ok")
    assert [c[:2] for c in calls] == [("verl", "req-1"), ("skyrl", "sess-1")]
    assert all(c[2]["temperature"] == 0.5 for c in calls)
    assert verl.sequences[0].logprobs[-1] == -0.25 and skyrl.sequences[0].logprobs[-1] == -0.5
