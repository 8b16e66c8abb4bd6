"""`python -m scripted_server --asyncio` (the load-benchmark endpoint): the real SDK, sync and async
clients, gets the same answers as from the threaded server, streamed and not, over kept-alive
connections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_asyncio_server_answers_tool_turns_then_text_to_both_sdk_clients():
    from agent import llm
    from agent.llm_async import acomplete, make_async_client

    server = subprocess.Popen([sys.executable, "-m", "scripted_server", "--asyncio", "--port", "0", "--tool-turns", "1",
                               "--latency", "0.2"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        client = llm.make_client(base_url, "k")
        assert llm.list_models(client) == ["scripted-model"]
        first = [{"role": "user", "content": "go"}]
        started = time.monotonic()
        call = llm.complete(client, {"model": "m", "messages": first}, stream=True)
        assert time.monotonic() - started >= 0.2  # --latency
        assert call.tool_calls[0]["function"]["name"] == "terminal" and call.finish_reason == "tool_calls"
        done = [*first, call.message(), {"role": "tool", "tool_call_id": call.tool_calls[0]["id"], "content": ""}]
        answer = llm.complete(client, {"model": "m", "messages": done}, stream=False)
        assert answer.content == "done" and answer.usage["total_tokens"] > 0

        async def many() -> list[str]:
            aclient = make_async_client(base_url, "k", connections=20)
            try:
                replies = await asyncio.gather(*[acomplete(aclient, {"model": "m", "messages": done}, stream=s)
                                                 for s in (True, False) * 10])
            finally:
                await aclient.close()
            return [r.content for r in replies]

        started = time.monotonic()
        assert asyncio.run(many()) == ["done"] * 20
        assert time.monotonic() - started < 0.2 * 20 * 0.75  # served concurrently (one after another: 4 s)
    finally:
        server.terminate()
        server.wait(timeout=10)
