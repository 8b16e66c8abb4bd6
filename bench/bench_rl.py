"""Rollouts through the token proxy: rollouts per second and hermes' overhead per model call. Not a
test: run `python bench/bench_rl.py` and read the lines.

Each rollout is hermes' real AIAgent (recording on, streaming on) through rl.TokenProxy to a
zero-latency in-process generate backend (non-canonical ids, a logprob per token): turn 1 calls the
terminal tool (`echo N`, a real bash per rollout), turn 2 answers. --concurrency rollouts run at
once with asyncio.gather on a thread pool of that size; --rollouts in all. Reported: wall time,
rollouts/s, and the mean wall time per model call seen by the agent (proxy render + tokenize +
record + HTTP + the agent's own work between calls), plus the tool's share.

    python bench/bench_rl.py [--rollouts 128] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-rl-"))
    os.environ["HERMES_HOME"] = str(home)
    os.environ["HERMES_LOG_DIR"] = str(home / "logs")

    from exports.tokenizer import load_tokenizer
    from exports.toy_tokenizer import build_toy_tokenizer
    from rl import GenerateOutput, RolloutSpec, TokenProxy, rollout

    build_toy_tokenizer().save_pretrained(home / "tok")
    tok = load_tokenizer(str(home / "tok"))
    eos = tok.backend.token_to_id("<|im_end|>")

    def generate(prompt_ids: list[int], sampling: dict) -> GenerateOutput:
        prompt = tok.decode(prompt_ids)
        if "<tool_response>" in prompt:
            text = "Done."
        else:
            text = '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo 42"}}\n</tool_call>'
        ids = [i for ch in text for i in tok.encode(ch)] + [eos]  # one id per character: non-canonical
        return GenerateOutput(ids, [-0.1] * len(ids), "stop")

    async def run() -> list:
        with TokenProxy(home / "tok", generate) as proxy, ThreadPoolExecutor(args.concurrency) as pool:
            gate = asyncio.Semaphore(args.concurrency)

            async def one(i: int):
                async with gate:
                    return await rollout(RolloutSpec(prompt=f"Task {i}"), proxy=proxy, executor=pool)
            return await asyncio.gather(*(one(i) for i in range(args.rollouts)))

    asyncio.run(_warm(tok, home, generate))  # imports and first-call costs out of the measurement
    started = time.perf_counter()
    results = asyncio.run(run())
    wall = time.perf_counter() - started
    ok = sum(r.status == "success" and len(r.sequences) == 1 for r in results)
    calls = sum(len(r.calls) for r in results)
    per_rollout = [r.metrics["seconds"] for r in results]
    print(f"rollouts: {args.rollouts} at concurrency {args.concurrency}; {ok} succeeded with one sequence each")
    print(f"wall: {wall:.2f} s -> {args.rollouts / wall:.1f} rollouts/s, {calls / wall:.1f} model calls/s")
    print(f"per rollout (2 model calls + 1 terminal call): median {statistics.median(per_rollout):.3f} s, "
          f"max {max(per_rollout):.3f} s; per model call {wall * args.concurrency / calls * 1000:.1f} ms "
          f"of a rollout slot (tool included) on {os.cpu_count()} cores")
    return 0 if ok == args.rollouts else 1


async def _warm(tok, home: Path, generate) -> None:
    from rl import RolloutSpec, TokenProxy, rollout

    with TokenProxy(home / "tok", generate) as proxy:
        await rollout(RolloutSpec(prompt="warm up"), proxy=proxy)


if __name__ == "__main__":
    sys.exit(main())
