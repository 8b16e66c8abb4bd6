"""hermes inside verl and SkyRL.

- With the real consumers (a cached venv with torch 2.13.0 CPU, verl 0.9.1 and skyrl 0.3.0, see
  consumer_venv.py): `HermesAgentLoop` is instantiated by verl's own `AgentLoopWorker.generate_sequences`
  from rl/verl_agent_loop.yaml (hydra `_target_`), runs against a server manager that returns verl's
  real `TokenOutput`, and its `AgentLoopOutput` goes through verl's own padding and batching into a
  `DataProto`. `HermesGenerator` is a real `GeneratorInterface`; every engine input it sends passes
  `InferenceEngineInput`, and its output passes SkyRL's own `validate_generator_output` and
  `GeneratorOutput`. The model behind both is the loopback stand-in (tests/rl/standin.py).
- Without them (the suite's venv): the same classes over their stand-in bases, checked against verl's
  `AgentLoopOutput` rebuilt from its wheel's source (tests/exports/test_consumers_verl.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from standin import StandIn, tool_then_answer

from rl.types import GenerateOutput
from tests.rl.test_rollout import stepper

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).parent / "consumer_driver.py"
YAML = ROOT / "rl" / "verl_agent_loop.yaml"


@pytest.fixture(scope="module")
def consumers(tokenizer_dir, chat_tokenizer, tmp_path_factory) -> dict:
    """The driver's report from the consumer venv (verl and skyrl parts)."""
    from tests.rl.consumer_venv import consumer_python

    python = consumer_python()
    home = tmp_path_factory.mktemp("consumer_hermes_home")  # module scope: conftest's private home is per test
    standin = StandIn(chat_tokenizer, consumer_model).start()
    try:
        proc = subprocess.run([str(python), str(DRIVER), str(tokenizer_dir), standin.url, str(YAML)],
                              capture_output=True, text=True, timeout=600, cwd=ROOT,
                              env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                   "HOME": str(home), "HERMES_HOME": str(home), "HERMES_LOG_DIR": str(home / "logs"),
                                   "RAY_USAGE_STATS_ENABLED": "0",
                                   # the failing engine's rollouts give up after hermes' retries, quickly
                                   "HERMES_RETRY_BASE_DELAY": "0.01"})
    finally:
        standin.close()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, f"driver exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1].removeprefix("REPORT ")) | {"stderr": proc.stderr}


def consumer_model(prompt: str) -> str:
    """tool_then_answer, and for "Run the steps." (compression on) seven steps then Done."""
    return stepper(prompt) if "Run the steps" in prompt and "Summarise" not in prompt else tool_then_answer(prompt)


def part(report: dict, name: str) -> dict:
    assert "error" not in report[name], report[name].get("error")
    return report[name]


def trained(tokens: list[int], mask: list[int]) -> list[int]:
    return [t for t, m in zip(tokens, mask, strict=True) if m]


@pytest.mark.timeout(2400)  # the first run on a machine creates the venv (13.5 min here); later ~2 min
def test_hermes_agent_loop_inside_verls_agent_loop_worker(consumers):
    verl = part(consumers, "verl")
    assert verl["is_subclass"]
    assert verl["decorated"] == {"_target_": "rl.verl.HermesAgentLoop"}  # @register("hermes_agent")
    assert verl["from_yaml"]["_target_"] == "rl.verl.HermesAgentLoop" and verl["from_yaml"]["toolsets"] == ["terminal"]
    assert {"prompts", "responses", "response_mask", "input_ids", "attention_mask", "position_ids",
            "rollout_log_probs"} <= set(verl["keys"])
    calls = verl["calls"]
    # one sticky request_id per rollout, two calls each (tool call, then the answer)
    by_request: dict[str, list[dict]] = {}
    for call in calls:
        by_request.setdefault(call["request_id"], []).append(call)
    assert len(by_request) == 2 and all(len(c) == 2 for c in by_request.values())
    # verl's own sampling params reach its server as verl built them, plus the response budget
    for call in calls:
        params = call["sampling_params"]
        assert (params["temperature"], params["top_p"], params["top_k"], params["logprobs"]) == (0.7, 0.9, -1, True)
        assert 0 < params["max_tokens"] <= 1024
    for row in range(2):
        prompt = [t for t, a in zip(verl["prompts"][row], verl["attention_mask"][row], strict=False) if a]
        width = len(verl["prompts"][row])
        response_attention = verl["attention_mask"][row][width:]
        response = [t for t, a in zip(verl["responses"][row], response_attention, strict=True) if a]
        mask = verl["response_mask"][row][:len(response)]
        # which rollout is this row: the one whose first call's prompt is this prompt
        (mine,) = [c for c in by_request.values() if c[0]["prompt_ids"] == prompt]
        # the sampled ids, bit for bit (the stand-in's are non-canonical), trained; everything else not
        assert trained(response, mask) == mine[0]["ids"] + mine[1]["ids"]
        assert mine[1]["prompt_ids"] == prompt + response[:len(mine[1]["prompt_ids"]) - len(prompt)]
        logprobs = verl["rollout_log_probs"][row][:len(response)]
        assert [lp for lp, m in zip(logprobs, mask, strict=True) if m] == pytest.approx(
            mine[0]["logprobs"] + mine[1]["logprobs"])
        assert all(lp == 0.0 for lp, m in zip(logprobs, mask, strict=True) if not m)
        assert verl["hermes"][row]["status"] == "success"
    assert verl["num_turns"] == [4, 4]  # user, assistant (tool call), tool, assistant
    assert verl["rm_scores"] is None  # score() returned None: left to verl's reward function
    assert all(m["tool_calls"] == 1.0 and m["generate_sequences"] > 0 for m in verl["metrics"])


@pytest.mark.timeout(2400)
def test_hermes_generator_against_skyrls_classes(consumers):
    sky = part(consumers, "skyrl")
    assert sky["is_subclass"]
    out, calls = sky["output"], sky["calls"]
    assert out["trajectory_ids"] == ["q1_0", "q2_0"]
    assert out["rewards"] == [0.0, 1.0]  # bravo, alpha; the expected answer is alpha (read in the sandbox)
    assert out["stop_reasons"] == ["stop", "stop"]
    assert all(c["keys"] == ["prompt_token_ids", "sampling_params", "session_ids"] for c in calls)
    # the batch's sampling params reach the engine in its own names, unchanged
    assert all(c["sampling_params"] == {"temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_tokens": 300,
                                        "logprobs": 0} for c in calls)
    for row, trajectory in enumerate(out["trajectory_ids"]):
        mine = [c for c in calls if c["session_id"].startswith(f"skyrl-{trajectory}-")]
        assert len(mine) == 2
        response, mask = out["response_ids"][row], out["loss_masks"][row]
        assert trained(response, mask) == mine[0]["ids"] + mine[1]["ids"]
        assert [lp for lp, m in zip(out["rollout_logprobs"][row], mask, strict=True) if m] == pytest.approx(
            mine[0]["logprobs"] + mine[1]["logprobs"])
    assert out["rollout_metrics"]["hermes/success_rate"] == 1.0
    assert [m["status"] for m in out["env_metrics"]] == ["success", "success"]


@pytest.mark.timeout(2400)
def test_one_failed_or_rewritten_rollout_does_not_fail_verls_step(consumers, chat_tokenizer):
    """A batch through verl's real worker: a normal rollout, one whose engine fails on every call
    (no token sequence), one whose history is rewritten (several sequences). The step comes back
    (before: the whole generate_sequences raised)."""
    verl = part(consumers, "verl_faults")
    good, failed, rewritten = verl["hermes"]
    assert (good["failed"], good["sequences"], good["trained_sequence"]) == (None, 1, 0)
    width = len(verl["prompts"][0])

    def row(i: int) -> tuple[list[int], list[int], list[int]]:
        prompt = [t for t, a in zip(verl["prompts"][i], verl["attention_mask"][i], strict=False) if a]
        attention = verl["attention_mask"][i][width:]
        response = [t for t, a in zip(verl["responses"][i], attention, strict=True) if a]
        return prompt, response, verl["response_mask"][i][:len(response)]

    # the failed one: its first prompt (hermes rendered it; the engine never answered), one masked filler token
    assert failed["status"] == "error" and failed["sequences"] == 0 and failed["trained_sequence"] is None
    assert failed["failed"].startswith("no token sequence (error")
    prompt, response, mask = row(1)
    assert "Write fail" in chat_tokenizer.decode(prompt) and len(response) == 1 and mask == [0]
    assert verl["rollout_log_probs"][1][0] == 0.0
    # the rewritten one: the last sequence, the one with the final answer, and exactly its own tokens
    assert rewritten["failed"] is None and rewritten["sequences"] >= 2
    assert rewritten["trained_sequence"] == rewritten["sequences"] - 1
    prompt, response, mask = row(2)
    mine = [c for c in verl["calls"] if c["prompt_ids"][:len(prompt)] == prompt]
    assert trained(response, mask) == [t for c in mine for t in c["ids"]]
    assert chat_tokenizer.decode(trained(response, mask)).rstrip().endswith("Done.<|im_end|>")
    assert "Write alpha" not in chat_tokenizer.decode(prompt + response)  # no other rollout's tokens
    # one line each in the worker's log
    assert f"hermes rollout {failed['task_id']} produced no token sequence (error" in consumers["stderr"]
    assert f"hermes rollout {rewritten['task_id']} has {rewritten['sequences']} token sequences" in consumers["stderr"]


@pytest.mark.timeout(2400)
def test_one_failed_or_rewritten_rollout_does_not_fail_skyrls_batch(consumers, chat_tokenizer):
    """The same three rollouts through HermesGenerator; the output passes SkyRL's own validation."""
    sky = part(consumers, "skyrl_faults")
    out = sky["output"]
    good, failed, rewritten = out["env_metrics"]
    assert (good["failed"], good["sequences"]) == (None, 1) and out["rewards"][0] == 1.0
    assert failed["failed"].startswith("no token sequence (error") and failed["sequences"] == 0
    assert out["response_ids"][1] and len(out["response_ids"][1]) == 1 and out["loss_masks"][1] == [0]
    assert out["rewards"][1] == 0.0 and out["stop_reasons"][1] == "error" and out["rollout_logprobs"][1] == [0.0]
    assert "Write fail" in chat_tokenizer.decode(out["prompt_token_ids"][1])
    assert rewritten["sequences"] >= 2 and rewritten["trained_sequence"] == rewritten["sequences"] - 1
    assert out["rollout_metrics"]["hermes/failed_rollouts"] == 1.0
    assert out["rollout_metrics"]["hermes/multi_sequence_rollouts"] == 1.0


# -- without the consumers: the stand-in bases ------------------------------------------------------------
class ServerManager:
    """verl's server manager by its call shape, over the stand-in's sampler (no HTTP needed)."""

    def __init__(self, standin: StandIn) -> None:
        self.standin, self.calls = standin, []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        ids, logprobs, finish = self.standin.sample(list(prompt_ids), sampling_params.get("max_tokens"))
        self.calls.append((request_id, dict(sampling_params), ids))
        return SimpleNamespace(token_ids=ids, log_probs=logprobs, stop_reason="length" if finish == "length" else "completed")


@pytest.fixture(scope="module")
def hf_tokenizer(tokenizer_dir):
    """The policy tokenizer as the frameworks hand it over: a transformers tokenizer object."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


def verl_config(response_length: int = 1024, prompt_length: int = 4096) -> SimpleNamespace:
    rollout = SimpleNamespace(prompt_length=prompt_length, response_length=response_length)
    return SimpleNamespace(config=SimpleNamespace(actor_rollout_ref=SimpleNamespace(rollout=rollout)))


def test_verl_loop_scores_in_the_sandbox_and_keeps_to_the_response_budget(chat_tokenizer, hf_tokenizer):
    """Stand-in base (verl not installed here): the reward hook runs in the rollout's sandbox, and a
    small response_length caps each call and then ends the rollout, cut like verl's own loops."""
    import rl.verl
    from tests.exports.test_consumers_verl import verl_models
    if rl.verl.VERL:
        pytest.skip("verl is installed here: the consumer-venv test covers the real base")

    class Loop(rl.verl.HermesAgentLoop):
        async def score(self, ctx, **fields):
            return 1.0 if (await ctx.aexec("cat answer.txt")).output.strip() == fields["expected"] else 0.0

    standin = StandIn(chat_tokenizer, tool_then_answer)
    manager = ServerManager(standin)

    async def main(response_length):
        loop = Loop(verl_config(response_length), manager, hf_tokenizer, max_turns=4)
        return await loop.run({"temperature": 0.3, "top_p": 1.0, "top_k": -1, "logprobs": True},
                              raw_prompt=[{"role": "user", "content": "Write alpha"}], expected="alpha")

    full = asyncio.run(main(1024))
    assert full.reward_score == 1.0 and full.num_turns == 4
    assert full.extra_fields["hermes"]["status"] == "success"
    row = {k: v for k, v in vars(full).items() if k != "metrics"} | {"metrics": full.metrics}
    models = verl_models()  # skips when verl's wheel cannot be fetched
    models["AgentLoopOutput"](**row)
    sampled = [ids for _, _, ids in manager.calls]
    assert trained(full.response_ids, full.response_mask) == sampled[0] + sampled[1]
    assert all(params["temperature"] == 0.3 and params["logprobs"] is True for _, params, _ in manager.calls)

    manager.calls.clear()
    first_len = len(sampled[0])
    short = asyncio.run(main(first_len + 3))  # room for the tool call and 3 tokens more
    budgets = [params["max_tokens"] for _, params, _ in manager.calls]
    assert budgets[0] == first_len + 3 and len(short.response_ids) == first_len + 3
    assert len(short.response_mask) == len(short.response_logprobs) == first_len + 3


def test_skyrl_generator_output_in_input_order(chat_tokenizer, hf_tokenizer):
    """Stand-in base (skyrl not installed here): outputs come back in input order, one per prompt."""
    import rl.skyrl
    if rl.skyrl.SKYRL:
        pytest.skip("skyrl is installed here: the consumer-venv test covers the real base")
    standin = StandIn(chat_tokenizer, tool_then_answer)

    class Client:
        def __init__(self):
            self.inputs = []

        async def generate(self, engine_input, model=None):
            self.inputs.append(engine_input)
            (ids,) = engine_input["prompt_token_ids"]
            out, lps, finish = standin.sample(ids, (engine_input["sampling_params"] or {}).get("max_tokens"))
            return {"responses": [""], "response_ids": [out], "stop_reasons": [finish], "response_logprobs": [lps]}

    client = Client()
    generator = rl.skyrl.HermesGenerator(client, hf_tokenizer, max_turns=4)
    words = ["alpha", "bravo", "charlie"]
    out = asyncio.run(generator.generate({"prompts": [[{"role": "user", "content": f"Write {w}"}] for w in words],
                                          "env_classes": ["x"] * 3, "env_extras": None, "sampling_params": None,
                                          "trajectory_ids": None, "batch_metadata": None}))
    assert len(out["response_ids"]) == len(out["prompt_token_ids"]) == len(out["loss_masks"]) == 3
    for word, prompt in zip(words, out["prompt_token_ids"], strict=True):
        assert f"Write {word}" in chat_tokenizer.decode(prompt)
    # no batch sampling params: None goes to the engine (its configured defaults), not a partial dict
    assert all(i["sampling_params"] is None for i in client.inputs)
    assert out["trajectory_ids"] is None and out["rollout_logprobs"] is not None


def test_verl_generate_merges_the_trainers_sampling_params():
    from rl.backends import verl_generate

    seen = []

    class Manager:
        async def generate(self, request_id, *, prompt_ids, sampling_params):
            seen.append(sampling_params)
            return SimpleNamespace(token_ids=[5, 6], log_probs=[-0.1, -0.2], stop_reason="length")

    generate = verl_generate(Manager(), "r1", {"temperature": 0.7, "logprobs": True})
    out = asyncio.run(generate([1, 2], {"temperature": 1.0, "max_tokens": 2, "n": 1}))
    assert seen == [{"temperature": 0.7, "max_tokens": 2, "logprobs": True}]
    assert out == GenerateOutput([5, 6], [-0.1, -0.2], "length")


def test_verl_loop_says_when_hermes_prompt_exceeds_prompt_length(chat_tokenizer, hf_tokenizer):
    import rl.verl
    if rl.verl.VERL:
        pytest.skip("verl is installed here: the consumer-venv test covers the real base")
    loop = rl.verl.HermesAgentLoop(verl_config(prompt_length=10), ServerManager(StandIn(chat_tokenizer, tool_then_answer)),
                                   hf_tokenizer, max_turns=2, toolsets=[])
    with pytest.raises(ValueError, match=r"has \d+ tokens; actor_rollout_ref.rollout.prompt_length is 10: raise"):
        asyncio.run(loop.run({"temperature": 1.0}, raw_prompt=[{"role": "user", "content": "hi"}]))


def reward_written(ctx, **row):  # named by reward_fn in the test below (sync: the loop accepts both)
    return 1.0 if ctx.exec("cat answer.txt").output.strip() == row["expected"] else 0.0


def test_verl_loop_reward_fn_option(chat_tokenizer, hf_tokenizer):
    import rl.verl
    if rl.verl.VERL:
        pytest.skip("verl is installed here: the consumer-venv test covers the real base")

    def run(reward_fn):
        loop = rl.verl.HermesAgentLoop(verl_config(), ServerManager(StandIn(chat_tokenizer, tool_then_answer)),
                                       hf_tokenizer, max_turns=3, reward_fn=reward_fn)
        return asyncio.run(loop.run({}, raw_prompt=[{"role": "user", "content": "Write bravo"}], expected="bravo"))

    assert run("tests.rl.test_verl_skyrl:reward_written").reward_score == 1.0
    with pytest.raises(ValueError, match=r"reward_fn='tests.rl.nowhere:f': cannot import it"):
        run("tests.rl.nowhere:f")


def test_verl_loop_row_for_a_rollout_that_never_started(chat_tokenizer, hf_tokenizer, caplog):
    """Stand-in base: a rollout that fails before any model call (here an unknown terminal backend)
    is one masked-out row of the row's own prompt, reward 0, with the reason; verl's step goes on."""
    import rl.verl
    if rl.verl.VERL:
        pytest.skip("verl is installed here: the consumer-venv test covers the real base")
    manager = ServerManager(StandIn(chat_tokenizer, tool_then_answer))
    loop = rl.verl.HermesAgentLoop(verl_config(), manager, hf_tokenizer, terminal_backend="nowhere")
    out = asyncio.run(loop.run({"logprobs": True}, raw_prompt=[{"role": "user", "content": "Write alpha"}]))
    assert manager.calls == []
    assert (out.response_mask, out.response_logprobs, out.reward_score) == ([0], [0.0], 0.0)
    assert out.response_ids == [hf_tokenizer.eos_token_id]
    assert chat_tokenizer.decode(out.prompt_ids).rstrip().endswith("Write alpha<|im_end|>\n<|im_start|>assistant")
    hermes = out.extra_fields["hermes"]
    assert hermes["failed"].startswith("no token sequence (error: ") and "nowhere" in hermes["failed"]
    assert f"hermes rollout {hermes['task_id']} produced no token sequence" in caplog.text


def test_skyrl_row_for_an_engine_that_samples_nothing(chat_tokenizer, hf_tokenizer):
    """Stand-in base: an engine that returns no token for every call gives a sequence with an empty
    response, which SkyRL's trainer cannot take (it puts the reward on response[-1]): a masked-out
    one-token row with reward 0 and stop reason "error" instead."""
    import rl.skyrl
    if rl.skyrl.SKYRL:
        pytest.skip("skyrl is installed here: the consumer-venv test covers the real base")

    class Client:
        async def generate(self, engine_input, model=None):
            return {"responses": [""], "response_ids": [[]], "stop_reasons": ["stop"], "response_logprobs": [[]]}

    generator = rl.skyrl.HermesGenerator(Client(), hf_tokenizer, max_turns=2)
    out = asyncio.run(generator.generate({"prompts": [[{"role": "user", "content": "Write alpha"}]],
                                          "env_classes": None, "env_extras": None, "sampling_params": None,
                                          "trajectory_ids": None, "batch_metadata": None}))
    assert out["response_ids"] == [[hf_tokenizer.eos_token_id]] and out["loss_masks"] == [[0]]
    assert out["rewards"] == [0.0] and out["stop_reasons"] == ["error"] and out["rollout_logprobs"] == [[0.0]]
    (metrics,) = out["env_metrics"]
    assert metrics["failed"].startswith("empty response (") and metrics["sequences"] == 1
    assert "Write alpha" in chat_tokenizer.decode(out["prompt_token_ids"][0])
