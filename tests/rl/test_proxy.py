"""The token proxy on its own, driven by the openai SDK as any client would: routing by API key,
streamed tool calls, a turn cut at max_tokens, text-mode tool calls, errors."""

from __future__ import annotations

import pytest
from standin import StandIn

from agent.llm import import_openai
from rl.backends import sglang_generate
from rl.proxy import TokenProxy

TOOLS = [{"type": "function", "function": {"name": "terminal", "description": "Run a command",
                                            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}]
CALL = '<tool_call>\n{"name":"terminal","arguments":{"command":"ls"}}\n</tool_call>'  # compact: not the template's form


@pytest.fixture
def proxy_and_standin(tokenizer_dir, chat_tokenizer):
    standin = StandIn(chat_tokenizer, lambda prompt: CALL if "<tool_response>" not in prompt else "Listed.").start()
    proxy = TokenProxy(tokenizer_dir, sglang_generate(standin.url)).start()
    yield proxy, standin
    proxy.close()
    standin.close()


def client(base_url: str, key: str = "none"):
    return import_openai().OpenAI(base_url=base_url, api_key=key, max_retries=0)


def test_key_routing_streamed_tool_call_and_raw_text_restored(proxy_and_standin, chat_tokenizer):
    proxy, standin = proxy_and_standin
    proxy.open("r1")
    openai_client = client(proxy.url, key="r1")  # plain /v1 URL: the API key names the rollout
    messages = [{"role": "user", "content": "List files"}]
    chunks = list(openai_client.chat.completions.create(model="policy", messages=messages, tools=TOOLS, stream=True))
    calls = [tc for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert [(c.function.name, c.function.arguments) for c in calls] == [("terminal", '{"command": "ls"}')]
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]
    # the client re-sends the call in its own (canonical JSON) form; the proxy restores the raw text
    messages += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": calls[0].id, "type": "function",
                      "function": {"name": "terminal", "arguments": '{"command":"ls"}'}}]},
                 {"role": "tool", "tool_call_id": calls[0].id, "content": "a.txt"}]
    reply = openai_client.chat.completions.create(model="policy", messages=messages, tools=TOOLS)
    assert reply.choices[0].message.content == "Listed."
    sequences, calls_made = proxy.take("r1")
    assert len(sequences) == 1 and len(calls_made) == 2  # one sequence: the second prompt extended the first
    first, second = standin.requests
    assert second["prompt_ids"][: len(first["prompt_ids"]) + len(first["output_ids"])] == \
        first["prompt_ids"] + first["output_ids"]  # the sampled call, not the client's re-serialised JSON


def test_turn_cut_at_max_tokens_gets_no_end_token(proxy_and_standin, chat_tokenizer):
    proxy, standin = proxy_and_standin
    url = proxy.open("cut")
    reply = client(url).chat.completions.create(model="policy", messages=[{"role": "user", "content": "hi"}],
                                                max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    sampled = standin.requests[0]["output_ids"]
    assert len(sampled) == 5 and standin.eos not in sampled
    assert reply.choices[0].message.content == chat_tokenizer.decode(sampled)
    seq = proxy.peek("cut").sequences[0]
    assert seq.mask[-5:] == [1] * 5 and seq.tokens[-5:] == sampled and seq.finish_reason == "length"
    # the next prompt closes the cut turn with the template's end token, which is context (mask 0)
    client(url).chat.completions.create(model="policy", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": reply.choices[0].message.content},
        {"role": "user", "content": "go on"}], max_tokens=5)
    seq = proxy.peek("cut").sequences[0]
    first_after = len(standin.requests[0]["prompt_ids"]) + 5
    assert seq.tokens[first_after] == standin.eos and seq.mask[first_after] == 0


def test_text_mode_hands_back_the_raw_tool_call(tokenizer_dir, chat_tokenizer):
    standin = StandIn(chat_tokenizer, lambda prompt: CALL).start()
    try:
        with TokenProxy(tokenizer_dir, sglang_generate(standin.url), tool_calls="text") as proxy:
            reply = client(proxy.open("t")).chat.completions.create(
                model="policy", messages=[{"role": "user", "content": "x"}], tools=TOOLS)
    finally:
        standin.close()
    assert reply.choices[0].message.content == CALL and not reply.choices[0].message.tool_calls


def test_unknown_rollout_and_backend_failure_are_clear_errors(tokenizer_dir):
    openai = import_openai()
    with TokenProxy(tokenizer_dir, sglang_generate("http://127.0.0.1:9", timeout=2)) as proxy:
        with pytest.raises(openai.NotFoundError, match="unknown rollout 'nope'"):
            client(proxy.url, key="nope").chat.completions.create(model="p", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.APIStatusError, match="generate backend") as info:
            client(proxy.open("down")).chat.completions.create(model="p", messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 502


def test_header_routing_and_a_verl_shaped_async_backend(tokenizer_dir, chat_tokenizer):
    """`X-Rollout-Id` names the rollout on the plain URL; a coroutine backend returning an object with
    verl TokenOutput's fields (token_ids, log_probs, stop_reason) runs on the proxy's own loop."""
    from dataclasses import dataclass

    from rl.backends import callable_generate

    @dataclass
    class TokenOutput:
        token_ids: list[int]
        log_probs: list[float]
        stop_reason: str = "completed"

    seen = []

    async def server_manager_generate(prompt_ids, sampling):
        seen.append(sampling)
        ids = chat_tokenizer.encode("ok") + [chat_tokenizer.backend.token_to_id("<|im_end|>")]
        return TokenOutput(ids, [-0.5] * len(ids))

    with TokenProxy(tokenizer_dir, callable_generate(server_manager_generate)) as proxy:
        proxy.open("h1")
        reply = client(proxy.url).chat.completions.create(
            model="p", messages=[{"role": "user", "content": "x"}], temperature=0.3, top_p=0.5, seed=7,
            extra_headers={"X-Rollout-Id": "h1"})
        sequences, calls = proxy.take("h1")
    assert reply.choices[0].message.content == "ok" and reply.choices[0].finish_reason == "stop"
    assert seen == [{"temperature": 0.3, "top_p": 0.5, "seed": 7}]
    assert sequences[0].logprobs[-len(calls[0].completion_ids):] == [-0.5] * len(calls[0].completion_ids)


def test_a_backend_answer_of_the_wrong_shape_is_refused():
    from rl.backends import BackendError, as_output

    with pytest.raises(BackendError, match="2 logprobs for 3 tokens"):
        as_output(([1, 2, 3], [0.0, 0.0], "stop"))
    with pytest.raises(BackendError, match="expected GenerateOutput"):
        as_output({"ids": [1]})
