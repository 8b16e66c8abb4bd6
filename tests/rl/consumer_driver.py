"""Runs INSIDE the cached consumer venv (real torch, verl 0.9.1, skyrl 0.3.0; tests/rl/consumer_venv.py):
hermes' verl agent loop and SkyRL generator against the real classes, with a stand-in inference
server on loopback (tests/rl/standin.py, started by the test). Prints one JSON report on stdout.

    python consumer_driver.py TOKENIZER_DIR STANDIN_URL VERL_AGENT_LOOP_YAML

One process for both (torch is imported once); a part that raises reports its traceback instead.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
import typing
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def standin_generate(url: str, prompt_ids: list[int], max_tokens: int | None) -> dict[str, Any]:
    """One call of the stand-in's SGLang-shaped /generate (what a real engine would sample)."""
    body = {"input_ids": prompt_ids, "sampling_params": {"max_new_tokens": max_tokens}, "return_logprob": True}
    out = httpx.post(url + "/generate", json=body, timeout=60).json()
    entries = out["meta_info"]["output_token_logprobs"]
    return {"ids": out["output_ids"], "logprobs": [e[0] for e in entries],
            "finish": out["meta_info"]["finish_reason"]["type"]}


def run_verl(tokenizer_dir: str, url: str, yaml_path: str) -> dict[str, Any]:
    import numpy as np
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop import agent_loop as al
    from verl.protocol import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer.tokenizer import hf_tokenizer
    from verl.workers.rollout.replica import TokenOutput

    import rl.verl

    decorated = dict(al._agent_loop_registry["hermes_agent"])  # by @register, at import
    calls: list[dict[str, Any]] = []

    class ServerManager:  # verl's LLMServerClient.generate(request_id, *, prompt_ids, sampling_params, ...)
        async def generate(self, request_id, *, prompt_ids, sampling_params, image_data=None, video_data=None,
                           audio_data=None, mm_processor_kwargs=None, **kwargs) -> TokenOutput:
            out = await asyncio.to_thread(standin_generate, url, list(prompt_ids), sampling_params.get("max_tokens"))
            calls.append({"request_id": request_id, "sampling_params": dict(sampling_params),
                          "prompt_ids": list(prompt_ids), **out})
            return TokenOutput(token_ids=out["ids"], log_probs=out["logprobs"] if sampling_params.get("logprobs") else None,
                               stop_reason="length" if out["finish"] == "length" else "completed", num_preempted=0)

    config = OmegaConf.create({
        "actor_rollout_ref": {"rollout": {
            "temperature": 0.7, "top_p": 0.9, "top_k": -1, "calculate_log_probs": True,
            "prompt_length": 4096, "response_length": 1024,
            "val_kwargs": {"temperature": 0.0, "top_p": 1.0, "top_k": -1},
            "agent": {"default_agent_loop": "single_turn_agent", "agent_loop_config_path": yaml_path}}},
        "data": {"apply_chat_template_kwargs": {}}})
    # AgentLoopWorker.__init__ needs a model directory and Ray; these are the attributes its
    # generate_sequences / _run_agent_loop / _agent_loop_postprocess / _postprocess read.
    worker = al.AgentLoopWorker.__new__(al.AgentLoopWorker)
    worker.config, worker.rollout_config, worker.llm_client = config, config.actor_rollout_ref.rollout, ServerManager()
    worker.tokenizer, worker.processor, worker.hf_model_type = hf_tokenizer(tokenizer_dir), None, None
    worker.dataset_cls, worker.tools, worker.mm_processor_kwargs = RLHFDataset, [], {}
    worker.reward_loop_worker_handles, worker.distillation_enabled = None, False
    for entry in OmegaConf.load(yaml_path):  # what AgentLoopWorker.__init__ does with agent_loop_config_path
        al._agent_loop_registry[entry.name] = entry

    rows = [[{"role": "user", "content": "Write alpha"}], [{"role": "user", "content": "Write bravo"}]]
    batch = DataProto.from_single_dict({
        "raw_prompt": np.array(rows + [None], dtype=object)[:-1],
        "agent_name": np.array(["hermes_agent", "hermes_agent"], dtype=object),
        "index": np.array([0, 1], dtype=object),
    })
    output = asyncio.run(worker.generate_sequences(batch))
    t = output.batch
    return {
        "is_subclass": issubclass(rl.verl.HermesAgentLoop, al.AgentLoopBase),
        "decorated": decorated, "from_yaml": OmegaConf.to_container(al._agent_loop_registry["hermes_agent"]),
        "keys": sorted(t.keys()),
        "prompts": t["prompts"].tolist(), "responses": t["responses"].tolist(),
        "response_mask": t["response_mask"].tolist(), "attention_mask": t["attention_mask"].tolist(),
        "rollout_log_probs": t["rollout_log_probs"].tolist(),
        "rm_scores": t["rm_scores"].tolist() if "rm_scores" in t.keys() else None,
        "num_turns": output.non_tensor_batch["__num_turns__"].tolist(),
        "hermes": [dict(x) for x in output.non_tensor_batch["hermes"]],
        "metrics": output.meta_info["metrics"],
        "calls": calls,
    }


def run_skyrl(tokenizer_dir: str, url: str) -> dict[str, Any]:
    import typing_extensions

    # skyrl 0.3.0 declares Python >= 3.11 but its tinker types (imported by skyrl.backends) are
    # pydantic models over typing.TypedDict, which pydantic accepts only on 3.12+; the 3.11 torch
    # wheel on this machine decides the interpreter. Its TypedDicts are the same under either.
    typing.TypedDict = typing_extensions.TypedDict
    from pydantic import ConfigDict, TypeAdapter
    from skyrl.backends.skyrl_train.inference_servers.base import InferenceEngineInput, InferenceEngineOutput
    from skyrl.train.generators.base import GeneratorInput, GeneratorInterface, GeneratorOutput, TrajectoryID
    from skyrl.train.utils.trainer_utils import validate_generator_output
    from transformers import AutoTokenizer

    import rl.skyrl

    calls: list[dict[str, Any]] = []
    engine_in = TypeAdapter(InferenceEngineInput)
    engine_out = TypeAdapter(InferenceEngineOutput)

    class Client:  # InferenceEngineInterface.generate(input_batch, model=None) -> InferenceEngineOutput
        async def generate(self, input_batch: InferenceEngineInput, model: str | None = None) -> InferenceEngineOutput:
            sent = dict(input_batch)
            engine_in.validate_python({k: None for k in InferenceEngineInput.__annotations__} | sent)
            (ids,) = sent["prompt_token_ids"]
            params = sent["sampling_params"] or {}
            out = await asyncio.to_thread(standin_generate, url, ids, params.get("max_tokens"))
            calls.append({"keys": sorted(sent), "session_id": sent["session_ids"][0], "sampling_params": params, **out})
            reply = {"responses": [""], "response_ids": [out["ids"]], "stop_reasons": [out["finish"]],
                     "response_logprobs": [out["logprobs"]], "prompt_logprobs": None, "rollout_expert_indices": None}
            return engine_out.validate_python(reply)

    class Generator(rl.skyrl.HermesGenerator):
        async def score(self, ctx, env_class, extras):
            return 1.0 if (await ctx.aexec("cat answer.txt")).output.strip() == extras["expected"] else 0.0

    generator = Generator(Client(), AutoTokenizer.from_pretrained(tokenizer_dir))
    batch = TypeAdapter(GeneratorInput).validate_python({
        "prompts": [[{"role": "user", "content": "Write bravo"}], [{"role": "user", "content": "Write alpha"}]],
        "env_classes": ["hermes", "hermes"], "env_extras": [{"expected": "alpha"}, {"expected": "alpha"}],
        "sampling_params": {"temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 300, "logprobs": 0},
        "trajectory_ids": [TrajectoryID("q1", 0), TrajectoryID("q2", 0)], "batch_metadata": None})
    output = asyncio.run(generator.generate(batch))
    validate_generator_output(2, output)  # what SkyRL's trainer runs on every generator output
    # the vision fields are left out, as SkyRL's own generator leaves them out without images
    GeneratorOutput.__pydantic_config__ = ConfigDict(arbitrary_types_allowed=True)  # its torch.Tensor fields
    TypeAdapter(GeneratorOutput).validate_python(
        {"pixel_values": None, "image_grid_thw": None} | output)
    return {"is_subclass": isinstance(generator, GeneratorInterface), "output": {
        k: ([t.to_string() for t in v] if k == "trajectory_ids" else v) for k, v in output.items()}, "calls": calls}


if __name__ == "__main__":
    tokenizer_dir, url, yaml_path = sys.argv[1:4]
    report: dict[str, Any] = {}
    for name, part in (("verl", lambda: run_verl(tokenizer_dir, url, yaml_path)),
                       ("skyrl", lambda: run_skyrl(tokenizer_dir, url))):
        try:
            report[name] = part()
        except Exception:
            report[name] = {"error": traceback.format_exc()}
    print("REPORT " + json.dumps(report))
