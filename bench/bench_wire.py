"""Client CPU per model call: the SDK's `AsyncOpenAI` (agent/llm_async.py) against the lean client
(agent/wire.py), N calls in flight, 5 streamed calls each, against the asyncio scripted server in
its own process. Each request carries an 8 KB system prompt and 20 tool schemas, as a batch
sample's does. Not a test: `python bench/bench_wire.py [--concurrency 400] [--latency 1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = {"model": "m", "messages": [{"role": "system", "content": "x" * 8000}, {"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": f"f{i}", "parameters": {"type": "object", "properties": {}}}}
                  for i in range(20)]}


async def measure(kind: str, base_url: str, concurrency: int, calls: int) -> dict[str, float]:
    from agent.llm_async import acomplete, make_async_client
    from agent.wire import WireClient

    if kind == "sdk":
        clients = [make_async_client(base_url, "x", connections=16) for _ in range(-(-concurrency // 16))]
    else:
        clients = [WireClient(base_url, "x")]

    async def one(client: object) -> None:
        for _ in range(calls):
            await acomplete(client, BODY)

    await one(clients[0])  # warm: imports, first connection
    before, started = os.times(), time.perf_counter()
    await asyncio.gather(*(one(clients[i // 16 % len(clients)]) for i in range(concurrency)))
    after, wall = os.times(), time.perf_counter() - started
    for client in clients:
        await client.close()
    cpu = (after.user - before.user) + (after.system - before.system)
    return {"cpu_ms_per_call": round(cpu * 1000 / (concurrency * calls), 3), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=400)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "scripted_server", "--port", "0", "--asyncio", "--latency",
                               str(args.latency)], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        base_url = server.stdout.readline().strip().split()[-1]
        result = {"date": str(date.today()), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                  f"Python {platform.python_version()}", "concurrency": args.concurrency, "calls": args.calls,
                  "latency_s": args.latency}
        for kind in ("sdk", "wire"):
            result[kind] = asyncio.run(measure(kind, base_url, args.concurrency, args.calls))
        result["load_average"] = os.getloadavg()
    finally:
        server.terminate()
        server.wait()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
