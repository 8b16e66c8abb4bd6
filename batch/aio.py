"""The asyncio driver of `hermes batch`: every sample in flight on one event loop.

Each sample is the runner's own `sample_steps` generator (the agent loop of run_agent.py inside it,
agent/steps.py): model calls are awaited on one `AsyncOpenAI` client whose pool keeps a connection
per sample in flight; tools, verifiers and clean-up run in a thread pool that grows only to the
blocking work actually under way (bash for a few ms per call), never to one thread per sample.
At 1,000 samples waiting 2 s per call the thread-pool driver spent most of its CPU handing the
interpreter lock between a thousand threads (bench/bench_batch.py; README "Performance").

Outcomes are written on the loop's thread as each sample finishes, exactly as the thread driver
writes them; Ctrl-C interrupts every live sample, lets them unwind (their terminals are cleaned
up) and re-raises, leaving the finished ones saved for `--resume`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch.dataset import Sample
    from batch.runner import BatchRunner


# The collector's first generation, while samples run: with the default 700 and a thousand samples
# in flight it ran ~300 times per 1,500 samples, with 3 full passes of ~150 ms that held up every
# sample on the loop (0.6 s a process). What a sample allocates is nearly all freed by reference
# counting; cycles are still collected, less often.
GC_GEN0 = 20_000


def run_samples(runner: BatchRunner, todo: list[Sample]) -> None:
    """Run `todo` to the end (or until Ctrl-C, which is re-raised as KeyboardInterrupt)."""
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()  # what start-up built (modules, settings, tool schemas) is never scanned again
    gc.set_threshold(GC_GEN0, *before[1:])
    try:
        asyncio.run(_run_all(runner, todo))
    finally:
        gc.set_threshold(*before)
        if not frozen:  # a caller's own frozen objects stay frozen
            gc.unfreeze()


async def _run_all(runner: BatchRunner, todo: list[Sample]) -> None:
    from agent import steps

    workers = max(1, runner.config.num_workers)
    clients = _clients(runner._endpoint, min(workers, len(todo) or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sample-io")
    queue = iter(todo)

    async def worker(client: object, delay: float) -> None:
        # `workers` of these pull samples in dataset order: at most that many in flight. Their
        # starts are spread out (START_SPACING): a thousand set-ups in one loop pass starved the
        # connects under way, and the calls would stay in lock-step waves.
        await asyncio.sleep(delay)
        for sample in queue:
            if runner._stop.is_set():
                return
            outcome = await steps.run_async(runner.sample_steps(sample), client, pool)
            runner._finish(outcome)

    tasks = [asyncio.create_task(worker(clients[i % len(clients)], i * START_SPACING))
             for i in range(min(workers, len(todo)))]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancelled us; stop the samples cleanly
        runner._stop.set()
        runner._interrupt_live()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        for client in clients:
            await client.close()
        pool.shutdown(wait=True)


def _clients(endpoint: Any, workers: int) -> list[Any]:
    """The lean client (agent/wire.py: ~0.65 ms of CPU per call against the SDK's ~5 ms at this
    scale) unless the endpoint is reached through a proxy; then `AsyncOpenAI` clients, one per
    CLIENT_SHARE workers: httpcore scans every connection of a pool on each request (a poll()
    syscall apiece), and with 1,000 in one pool that was most of the runner's CPU."""
    from agent import wire

    if wire.usable(endpoint.base_url):
        from hermes_cli import __version__

        return [wire.WireClient(endpoint.base_url, endpoint.api_key, user_agent=f"hermes/{__version__}")]
    from agent.llm_async import make_async_client

    return [make_async_client(endpoint.base_url, endpoint.api_key, connections=CLIENT_SHARE)
            for _ in range(-(-workers // CLIENT_SHARE))]


def pick_driver(requested: str, base_url: str) -> str:
    """`auto` is the event loop when the lean client can reach the endpoint itself (no HTTP proxy):
    at 1,000 in flight it costs a third of the thread pool's CPU per sample (README "Performance").
    Through a proxy the SDK's `AsyncOpenAI` would carry the calls; there threads measured as well."""
    from agent import wire

    if requested != "auto":
        return requested
    return "asyncio" if wire.usable(base_url) else "threads"

CLIENT_SHARE = 16  # workers (and pooled connections) per async client
# Seconds between the first samples of successive workers: 1,000 workers start over 2 s, so their
# model calls do not all come back in one wave that the loop then works through while the endpoint
# idles (measured: 58 samples/s against 54 with 0.5 ms, 1,000 in flight, 2 s per call).
START_SPACING = 0.002
