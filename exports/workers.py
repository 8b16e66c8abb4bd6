"""Sessions converted by forked worker processes, results handed back in input order.

Converting a session to token samples is CPU work on that session alone, so N processes export
about N times as fast. Workers are forked from the exporting process after the tokenizer is
loaded, so they share it (and the options, filters and secrets) without pickling anything but
paths and lines. The pipeline writes and counts the results itself, in order, exactly as if one
process had converted them; each worker's own counters (tokens, token sources) come back as
deltas with each result.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

WORKERS_FROM = 32  # fewer sessions than this: starting workers costs more than it saves
_CHUNK = 4  # sessions per task: fewer round trips, still an even spread
_MAX_AUTO = 4

Result = tuple[str, Any]


class _Counts(Protocol):
    tokens: int
    sources: Counter[str]


# Set in the parent just before the pool forks; the workers inherit them.
_convert: Callable[[Path], Result] | None = None
_counts: _Counts | None = None


def worker_count(requested: int | None) -> int:
    """How many processes to use: `requested`, else one per CPU this process may run on (up to 4);
    1 where fork is unavailable or threads are running (forking those is not safe)."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    if requested is not None:
        return max(1, requested)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_AUTO))


def _run(paths: list[Path]) -> list[tuple[Result, int, Counter[str]]]:
    assert _convert is not None and _counts is not None
    out = []
    for path in paths:
        tokens, sources = _counts.tokens, Counter(_counts.sources)
        result = _convert(path)  # a ConfigError propagates to the parent, which stops the export
        out.append((result, _counts.tokens - tokens, _counts.sources - sources))
    return out


def converted(convert: Callable[[Path], Result], paths: list[Path], workers: int,
              counts: _Counts) -> Iterator[tuple[Path, Result]]:
    """(path, convert(path)) for each path, in order, computed by `workers` forked processes;
    the counters `convert` bumps in a worker are added to `counts` here."""
    global _convert, _counts
    # The parent has not encoded anything yet; this keeps `tokenizers` from warning about it in
    # the children (and from starting its own thread pool in each).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _convert, _counts = convert, counts
    chunks = [paths[i:i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    # concurrent.futures rather than multiprocessing.Pool: a worker that dies (OOM killer) fails
    # the export with BrokenProcessPool instead of leaving it waiting forever.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        pending: deque[tuple[list[Path], Future[Any]]] = deque()
        ahead = 2 * workers  # tasks in flight: enough to keep workers busy, bounded memory
        for chunk in chunks:
            pending.append((chunk, pool.submit(_run, chunk)))
            if len(pending) >= ahead:
                yield from _collect(*pending.popleft(), counts)
        while pending:
            yield from _collect(*pending.popleft(), counts)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on an error: drop what has not started
        _convert = _counts = None


def _collect(chunk: list[Path], task: Future[Any], counts: _Counts) -> Iterator[tuple[Path, Result]]:
    for path, (result, tokens, sources) in zip(chunk, task.result(), strict=True):
        counts.tokens += tokens
        counts.sources.update(sources)
        yield path, result
