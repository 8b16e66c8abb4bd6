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


def verl_worker(tokenizer_dir: str, url: str, yaml_path: str, calls: list[dict[str, Any]]) -> Any:
    """verl's real AgentLoopWorker over a server manager that samples from the stand-in; a prompt
    that contains "Write fail" makes the server manager raise (an engine that is down)."""
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop import agent_loop as al
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer.tokenizer import hf_tokenizer
    from verl.workers.rollout.replica import TokenOutput

    tokenizer = hf_tokenizer(tokenizer_dir)

    class ServerManager:  # verl's LLMServerClient.generate(request_id, *, prompt_ids, sampling_params, ...)
        async def generate(self, request_id, *, prompt_ids, sampling_params, image_data=None, video_data=None,
                           audio_data=None, mm_processor_kwargs=None, **kwargs) -> TokenOutput:
            if "Write fail" in tokenizer.decode(list(prompt_ids)):
                raise RuntimeError("inference engine unavailable")
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
    worker.tokenizer, worker.processor, worker.hf_model_type = tokenizer, None, None
    worker.dataset_cls, worker.tools, worker.mm_processor_kwargs = RLHFDataset, [], {}
    worker.reward_loop_worker_handles, worker.distillation_enabled = None, False
    for entry in OmegaConf.load(yaml_path):  # what AgentLoopWorker.__init__ does with agent_loop_config_path
        al._agent_loop_registry[entry.name] = entry
    return worker


def verl_batch(rows: list[list[dict[str, str]]], agents: list[str]) -> Any:
    import numpy as np
    from verl.protocol import DataProto

    return DataProto.from_single_dict({
        "raw_prompt": np.array(rows + [None], dtype=object)[:-1],
        "agent_name": np.array(agents, dtype=object),
        "index": np.array(list(range(len(rows))), dtype=object),
    })


def run_verl(tokenizer_dir: str, url: str, yaml_path: str) -> dict[str, Any]:
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop import agent_loop as al

    import rl.verl

    decorated = dict(al._agent_loop_registry["hermes_agent"])  # by @register, at import
    calls: list[dict[str, Any]] = []
    worker = verl_worker(tokenizer_dir, url, yaml_path, calls)
    rows = [[{"role": "user", "content": "Write alpha"}], [{"role": "user", "content": "Write bravo"}]]
    output = asyncio.run(worker.generate_sequences(verl_batch(rows, ["hermes_agent", "hermes_agent"])))
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


def compressing(cls: type) -> type:
    """A subclass whose rollouts of "Run the steps." have compression on and a 64-token window:
    one rollout with several token sequences (3 here), as a rewritten history gives."""
    class Compressing(cls):  # type: ignore[valid-type,misc]
        def build_spec(self, *args: Any, **kwargs: Any) -> Any:
            spec = super().build_spec(*args, **kwargs)
            if "Run the steps" in str(spec.messages):
                spec.compression, spec.context_window = True, 64
            return spec
    return Compressing


CompressingLoop: Any = None  # rl.verl.HermesAgentLoop's compressing subclass, set by run_verl_faults


def run_verl_faults(tokenizer_dir: str, url: str, yaml_path: str) -> dict[str, Any]:
    """One batch through verl's real worker: a rollout whose engine fails, one with several token
    sequences, a normal one. verl's whole step must come back."""
    global CompressingLoop
    from verl.experimental.agent_loop import agent_loop as al

    import rl.verl

    CompressingLoop = compressing(rl.verl.HermesAgentLoop)
    calls: list[dict[str, Any]] = []
    worker = verl_worker(tokenizer_dir, url, yaml_path, calls)
    al._agent_loop_registry["hermes_compress"] = {"_target_": "__main__.CompressingLoop"}
    rows = [[{"role": "user", "content": "Write alpha"}], [{"role": "user", "content": "Write fail"}],
            [{"role": "user", "content": "Run the steps."}]]
    output = asyncio.run(worker.generate_sequences(verl_batch(rows, ["hermes_agent"] * 2 + ["hermes_compress"])))
    t = output.batch
    return {"prompts": t["prompts"].tolist(), "responses": t["responses"].tolist(),
            "response_mask": t["response_mask"].tolist(), "attention_mask": t["attention_mask"].tolist(),
            "rollout_log_probs": t["rollout_log_probs"].tolist(),
            "rm_scores": t["rm_scores"].tolist() if "rm_scores" in t.keys() else None,
            "hermes": [dict(x) for x in output.non_tensor_batch["hermes"]], "calls": calls}


def run_skyrl(tokenizer_dir: str, url: str, faults: bool = False) -> dict[str, Any]:
    """Two rollouts through HermesGenerator (rewards from the sandbox); with `faults`, three: a
    normal one, one whose engine fails, one with several token sequences."""
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

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    class Client:  # InferenceEngineInterface.generate(input_batch, model=None) -> InferenceEngineOutput
        async def generate(self, input_batch: InferenceEngineInput, model: str | None = None) -> InferenceEngineOutput:
            sent = dict(input_batch)
            engine_in.validate_python({k: None for k in InferenceEngineInput.__annotations__} | sent)
            (ids,) = sent["prompt_token_ids"]
            if "Write fail" in tokenizer.decode(ids):
                raise RuntimeError("inference engine unavailable")
            params = sent["sampling_params"] or {}
            out = await asyncio.to_thread(standin_generate, url, ids, params.get("max_tokens"))
            calls.append({"keys": sorted(sent), "session_id": sent["session_ids"][0], "sampling_params": params, **out})
            reply = {"responses": [""], "response_ids": [out["ids"]], "stop_reasons": [out["finish"]],
                     "response_logprobs": [out["logprobs"]], "prompt_logprobs": None, "rollout_expert_indices": None}
            return engine_out.validate_python(reply)

    class Generator(compressing(rl.skyrl.HermesGenerator)):  # type: ignore[misc]
        async def score(self, ctx, env_class, extras):
            return 1.0 if (await ctx.aexec("cat answer.txt")).output.strip() == extras["expected"] else 0.0

    generator = Generator(Client(), tokenizer)
    words = ["alpha", "fail", "steps"] if faults else ["bravo", "alpha"]
    prompts = [[{"role": "user", "content": "Run the steps." if w == "steps" else f"Write {w}"}] for w in words]
    batch = TypeAdapter(GeneratorInput).validate_python({
        "prompts": prompts, "env_classes": ["hermes"] * len(words), "env_extras": [{"expected": "alpha"}] * len(words),
        "sampling_params": {"temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 300, "logprobs": 0},
        "trajectory_ids": [TrajectoryID(f"q{i + 1}", 0) for i in range(len(words))], "batch_metadata": None})
    output = asyncio.run(generator.generate(batch))
    validate_generator_output(len(words), output)  # what SkyRL's trainer runs on every generator output
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
                       ("skyrl", lambda: run_skyrl(tokenizer_dir, url)),
                       ("verl_faults", lambda: run_verl_faults(tokenizer_dir, url, yaml_path)),
                       ("skyrl_faults", lambda: run_skyrl(tokenizer_dir, url, faults=True))):
        try:
            report[name] = part()
        except Exception:
            report[name] = {"error": traceback.format_exc()}
    print("REPORT " + json.dumps(report))
