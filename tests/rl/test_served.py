"""rl.served.ServedProxy in process (what `hermes rl proxy` serves): finishing a rollout while one of
its calls is in flight waits for that call, so the record holds it and nothing is lost; the openai
SDK is the client, httpx the trainer."""

from __future__ import annotations

import threading

import httpx
import pytest

from agent.llm import import_openai
from rl.backends import callable_generate
from rl.served import ServedProxy


@pytest.mark.timeout(60)
def test_finish_waits_for_the_call_in_flight(tokenizer_dir, chat_tokenizer, tmp_path):
    release, started = threading.Event(), threading.Event()
    answer = chat_tokenizer.encode("Done.")

    def slow(prompt_ids, sampling):  # the engine is mid-generation until the test releases it
        started.set()
        release.wait(30)
        return answer, [-0.5] * len(answer), "stop"

    out = tmp_path / "rollouts.jsonl"
    proxy = ServedProxy(tokenizer_dir, callable_generate(slow), output=out).start()
    proxy.open_output()
    root = proxy.url.removesuffix("/v1")
    replies: list[str] = []
    client = import_openai().OpenAI(base_url=f"{root}/r/slow/v1", api_key="x", max_retries=0)
    call = threading.Thread(target=lambda: replies.append(client.chat.completions.create(
        model="policy", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content))
    try:
        call.start()
        assert started.wait(20)
        finishing: list[httpx.Response] = []
        finisher = threading.Thread(target=lambda: finishing.append(httpx.post(f"{root}/rollouts/slow/finish",
                                                                               timeout=30)))
        finisher.start()
        finisher.join(0.5)
        assert finisher.is_alive() and out.read_text(encoding="utf-8") == ""  # waiting for the call
        release.set()
        call.join(20)
        finisher.join(20)
    finally:
        release.set()
        proxy.close()
    assert replies == ["Done."]
    record = finishing[0].json()
    assert record["finished"] is True and len(record["calls"]) == 1
    assert record["calls"][0]["completion_ids"] == answer and out.read_text(encoding="utf-8").count("\n") == 1
