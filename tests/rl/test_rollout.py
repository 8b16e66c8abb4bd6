"""The rollout API end to end: hermes' real AIAgent and terminal tool, through the token proxy, to a
stand-in token-in/token-out server that samples NON-canonical ids; the verifier in the live sandbox."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from standin import StandIn, tool_then_answer

from rl.backends import callable_generate, sglang_generate, vllm_completions_generate
from rl.proxy import TokenProxy
from rl.runner import Rollout, RolloutContext, rollout, rollout_sync
from rl.types import POLICY, SUMMARY, RolloutSpec


@pytest.fixture
def standin(chat_tokenizer):
    server = StandIn(chat_tokenizer, tool_then_answer).start()
    yield server
    server.close()


def assert_exact(result, standin, chat_tokenizer) -> None:
    """Sampled ids survive bit for bit; masks and logprobs line up with what the backend sent."""
    assert [s.kind for s in result.sequences] == [POLICY]
    seq = result.sequences[0]
    assert len(seq.tokens) == len(seq.mask) == len(seq.logprobs)
    sampled = [t for t, m in zip(seq.tokens, seq.mask, strict=True) if m]
    sent = [i for r in standin.requests for i in r["output_ids"]]
    assert sampled == sent  # the trained tokens are exactly the sampled ids, in order
    assert [lp for lp, m in zip(seq.logprobs, seq.mask, strict=True) if m] == \
        [lp for r in standin.requests for lp in r["logprobs"]]
    assert all(lp == 0.0 for lp, m in zip(seq.logprobs, seq.mask, strict=True) if not m)
    # every later prompt is the earlier prompt + the sampled ids + new context: nothing re-tokenized
    for before, after in zip(standin.requests, standin.requests[1:], strict=False):
        assert after["prompt_ids"][: len(before["prompt_ids"]) + len(before["output_ids"])] == \
            before["prompt_ids"] + before["output_ids"]
    assert seq.tokens[: seq.prompt_len] == standin.requests[0]["prompt_ids"]
    assert seq.tokens == standin.requests[-1]["prompt_ids"] + standin.requests[-1]["output_ids"]
    # ... and the ids really are non-canonical: rebuilt from text they would differ
    first = standin.requests[0]["output_ids"]
    assert chat_tokenizer.encode(chat_tokenizer.decode(first)) != first
    # the tool's output (mask 0) sits between the two sampled turns
    tool_part = chat_tokenizer.decode([t for t, m in zip(seq.tokens[seq.prompt_len:], seq.mask[seq.prompt_len:],
                                                         strict=True) if not m])
    assert "<tool_response>" in tool_part and "42" in tool_part


def test_tool_rollout_keeps_sampled_ids_and_verifier_scores_in_sandbox(tokenizer_dir, chat_tokenizer, standin):
    seen: dict = {}

    def verify(ctx: RolloutContext) -> float:
        out = ctx.exec("cat answer.txt; pwd")
        seen.update(output=out.output, workdir=ctx.workdir, exit_code=out.exit_code)
        return 1.0 if out.output.splitlines()[0] == "42" else 0.0

    with TokenProxy(tokenizer_dir, sglang_generate(standin.url)) as proxy:
        result = rollout_sync(RolloutSpec(prompt="What is 6*7? Use the terminal.", sampling={"temperature": 0.7,
                              "top_p": 0.9, "max_tokens": 200, "seed": 3}), proxy=proxy, verify=verify)
    assert result.status == "success", result.error
    assert result.final_response == "The answer is 42."
    assert result.reward == 1.0
    assert seen["exit_code"] == 0 and seen["output"].splitlines()[1] == str(seen["workdir"])
    assert not Path(seen["workdir"]).exists()  # the rollout's own temp workdir went with the sandbox
    assert len(standin.requests) == 2 and result.metrics["tool_calls"] == 1
    # sampling parameters reached the backend, in SGLang's names
    assert standin.requests[0]["sampling"] == {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 200,
                                               "sampling_seed": 3}
    assert_exact(result, standin, chat_tokenizer)
    assert [c.finish_reason for c in result.calls] == ["stop", "stop"]
    assert result.finish_reason == "stop"


def test_end_of_turn_token_is_trained_once_and_never_echoed(tokenizer_dir, chat_tokenizer, standin):
    with TokenProxy(tokenizer_dir, sglang_generate(standin.url)) as proxy:
        result = rollout_sync(RolloutSpec(prompt="What is 6*7? Use the terminal."), proxy=proxy)
    eos = standin.eos
    for message in result.messages:
        assert "<|im_end|>" not in json.dumps(message)
    # the sampled end token closes each assistant turn exactly once (no doubled <|im_end|><|im_end|>)
    text = chat_tokenizer.decode(standin.requests[1]["prompt_ids"])
    assert "<|im_end|><|im_end|>" not in text
    assert text.count("<|im_end|>") == text.count("<|im_start|>") - 1  # all closed but the open generation prompt
    seq = result.sequences[0]
    assert [t for t, m in zip(seq.tokens, seq.mask, strict=True) if m].count(eos) == 2  # trained, once per turn


@pytest.mark.parametrize("tool_calls", ["structured", "text"])
def test_vllm_completions_backend_non_streaming(tokenizer_dir, chat_tokenizer, standin, tool_calls):
    """Also with tool calls left as text: hermes parses them itself, results go back as <tool_response> turns."""
    with TokenProxy(tokenizer_dir, vllm_completions_generate(standin.url, "policy"), tool_calls=tool_calls) as proxy:
        result = rollout_sync(RolloutSpec(prompt="What is 6*7? Use the terminal.", stream=False,
                                          sampling={"max_tokens": 300, "temperature": 1.0}), proxy=proxy)
    assert result.status == "success" and result.final_response == "The answer is 42."
    assert {r["path"] for r in standin.requests} == {"/v1/completions"}
    assert standin.requests[0]["sampling"]["max_tokens"] == 300
    assert_exact(result, standin, chat_tokenizer)
    roles = [m["role"] for m in result.messages]
    assert roles == (["user", "assistant", "tool", "assistant"] if tool_calls == "structured"
                     else ["user", "assistant", "user", "assistant"])


def test_two_concurrent_rollouts_are_isolated(tokenizer_dir, chat_tokenizer, standin):
    """Async backend on the caller's loop, two rollouts gathered: own task, own workdir, own tokens."""
    sglang = sglang_generate(standin.url)

    async def agenerate(prompt_ids, sampling):
        return await asyncio.to_thread(sglang, prompt_ids, sampling)

    places = {}

    async def verify(ctx: RolloutContext) -> float:
        out = await ctx.aexec("cat answer.txt; pwd")
        places[ctx.spec.metadata["word"]] = (ctx.task_id, out.output.splitlines()[1])
        return 1.0 if out.output.splitlines()[0] == ctx.spec.metadata["word"] else 0.0

    async def main():
        proxy = TokenProxy(tokenizer_dir, callable_generate(agenerate)).start()
        try:
            with ThreadPoolExecutor(4) as pool:  # the pool a framework sizes for its concurrent rollouts
                return await asyncio.gather(*(rollout(RolloutSpec(prompt=f"Write {w}", metadata={"word": w}),
                                                      proxy=proxy, verify=verify, executor=pool)
                                              for w in ("alpha", "bravo")))
        finally:
            proxy.close()

    results = asyncio.run(main())
    assert [r.reward for r in results] == [1.0, 1.0]
    assert [r.final_response for r in results] == ["The answer is alpha.", "The answer is bravo."]
    assert results[0].task_id != results[1].task_id
    assert places["alpha"][0] != places["bravo"][0] and places["alpha"][1] != places["bravo"][1]  # own shell, own dir
    for result in results:
        assert len(result.sequences) == 1 and len(result.calls) == 2
        text = chat_tokenizer.decode(result.sequences[0].tokens)
        other = "bravo" if "alpha" in result.final_response else "alpha"
        assert other not in text  # no tokens of the other rollout leaked in


def stepper(prompt: str) -> str:
    """Seven terminal calls, then an answer: a history long enough for compression to have a middle
    (the next step follows the highest one seen, so a summarised history goes on where it was)."""
    if "Summarise this part of the conversation" in prompt:
        return "The agent ran some steps."
    seen = [int(n) for n in re.findall(r"step(\d+)", prompt)]
    step = max(seen) + 1 if seen else 0
    if step < 7:
        return '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo step' + str(step) + '"}}\n</tool_call>'
    return "Done."


def test_compression_is_off_by_default_and_tagged_when_on(tokenizer_dir, chat_tokenizer):
    assert RolloutSpec(prompt="x").compression is False
    standin = StandIn(chat_tokenizer, stepper).start()
    try:
        with TokenProxy(tokenizer_dir, sglang_generate(standin.url)) as proxy:
            # a window so small that every call would compress: off, so no summary call and one sequence
            off = rollout_sync(RolloutSpec(prompt="Run the steps.", context_window=64), proxy=proxy)
            assert off.status == "success" and not off.compressed and off.final_response == "Done."
            assert [s.kind for s in off.sequences] == [POLICY] and len(standin.requests) == 8
            on = rollout_sync(RolloutSpec(prompt="Run the steps.", context_window=64, compression=True),
                              proxy=proxy)
    finally:
        standin.close()
    assert on.status == "success" and on.compressed
    summary_calls = [c for c in on.calls if c.kind == SUMMARY]
    assert summary_calls and all("Summarise this part" in chat_tokenizer.decode(c.prompt_ids) for c in summary_calls)
    assert all(on.sequences[c.sequence].kind == SUMMARY for c in summary_calls)  # never inside a policy sequence
    policy_trained = sum(s.trained_tokens for s in on.policy_sequences)
    assert policy_trained == sum(len(c.completion_ids) for c in on.calls if c.kind == POLICY)


def test_rollout_needs_a_proxy_or_an_endpoint():
    with pytest.raises(ValueError, match="proxy="):
        Rollout(RolloutSpec(prompt="x"))
    with pytest.raises(ValueError, match="exactly one"):
        RolloutSpec()
    with pytest.raises(ValueError, match="end with the user message"):
        RolloutSpec(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])


def test_messages_spec_continues_a_conversation_with_a_hf_tokenizer_object(chat_tokenizer):
    """A transformers tokenizer object works as the proxy's tokenizer; earlier turns are context (mask 0)."""
    from exports.toy_tokenizer import build_toy_tokenizer

    standin = StandIn(chat_tokenizer, lambda prompt: "Still 42.").start()
    try:
        with TokenProxy(build_toy_tokenizer(), sglang_generate(standin.url)) as proxy:
            result = rollout_sync(RolloutSpec(messages=[
                {"role": "user", "content": "6*7?"}, {"role": "assistant", "content": "42"},
                {"role": "user", "content": "Sure?"}], toolsets=[]), proxy=proxy)
    finally:
        standin.close()
    assert result.final_response == "Still 42." and [m["role"] for m in result.messages] == \
        ["user", "assistant", "user", "assistant"]
    seq = result.sequences[0]
    assert seq.trained_tokens == len(standin.requests[0]["output_ids"])  # the given "42" is not trained
    assert "<|im_start|>assistant\n42<|im_end|>" in chat_tokenizer.decode(seq.tokens[: seq.prompt_len])


def test_without_a_proxy_the_ids_the_endpoint_returns_become_sequences(scripted_llm, tokenizer_dir):
    """A vLLM-like endpoint returning token ids (return_token_ids): hermes' own capture, then the
    session log's ids as sequences (token_source "server")."""
    from exports.toy_tokenizer import build_toy_tokenizer
    from scripted_server import Reply, ToolCall
    from tests.exports.toolkit import VllmHooks

    hooks = VllmHooks(build_toy_tokenizer())
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "echo 42"})]), Reply(content="42")],
                       **hooks.server_kwargs())
    result = rollout_sync(RolloutSpec(prompt="6*7?", base_url=llm.base_url, sampling={"temperature": 0.2}),
                          tokenizer=tokenizer_dir)
    assert result.status == "success" and result.final_response == "42", result.error
    body = llm.chat_requests[0].body
    assert body["return_token_ids"] is True and body["logprobs"] is True and body["temperature"] == 0.2
    assert result.token_source == "server" and result.sequences
    sampled = [t for s in result.sequences for t, m in zip(s.tokens, s.mask, strict=True) if m]
    for call in hooks.calls:  # every completion the endpoint returned is trained, id for id
        text = " ".join(map(str, sampled))
        assert " ".join(map(str, call["completion"])) in text
    assert all(s.logprobs is not None and len(s.logprobs) == len(s.tokens) for s in result.sequences)


