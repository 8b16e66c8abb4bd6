"""`hermes batch --processes P`: one run spread over P runner processes on this machine.

A runner is a thread pool in one Python process, so however many samples wait on the endpoint at
once, everything else a sample does (building requests, reading streams, recording, tools) runs
under one interpreter lock: about one core. Measured (README, Performance) at 1,000 samples in
flight against a slow endpoint, memory was fine and that core was the limit. Here the parent
deals the run's samples (dataset order, after --shard and --n) round-robin into P parts, the same
in every process, runs one `hermes batch` child per part (the same command line plus `--part i/P
--resume`, with --num-workers divided among them), and shows their combined progress from
the run's append-only files, which every child writes whole lines to with O_APPEND (store.py).
At the end it writes statistics.json and checkpoint.json over everything.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL = 0.25  # seconds between progress updates from the files

HERMES = Path(__file__).resolve().parent.parent / "hermes"


def child_argv(argv: list[str], part: int, parts: int) -> list[str]:
    """The parent's command line for one part: without --processes and the final rollout export
    (the parent does it once), with --part, --resume (the parent opened the run) and -q."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--processes", "--tokenizer"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return [sys.executable, str(HERMES), "batch", *out, "--part", f"{part}/{parts}", "--resume", "-q"]


def _lines(path: Path) -> int:
    return LineCount(path).update()


class LineCount:
    """Whole lines of a file that only grows, read incrementally: the progress poll reads only what
    was appended since the last one (re-reading the whole trajectories file four times a second
    cost a millisecond of CPU per sample by the end of a long run)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.count = path, 0, 0

    def update(self) -> int:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    self.offset += len(chunk)
                    self.count += chunk.count(b"\n")
        except FileNotFoundError:
            pass
        return self.count


def run_parts(runner: Any, argv: list[str], parts: int, on_progress: Any) -> dict[str, Any]:
    """Run the pending samples of `runner` (a BatchRunner, not started) in `parts` child processes;
    returns the statistics over the whole run. KeyboardInterrupt: the children stop too (they get
    the same Ctrl-C), then it is raised here."""
    from batch.runner import Progress

    store = runner.store
    store.open(resume=runner.config.resume or runner.config.retry_failed)
    try:
        store.write_manifest(runner._manifest())
        total = len(runner.pending())
    finally:
        store.close()
    done_lines, failed_lines = LineCount(store.trajectories), LineCount(store.failed)
    done0, failed0 = done_lines.update(), failed_lines.update()
    progress = Progress(total=total)
    on_progress(progress)
    started = time.perf_counter()
    children = [subprocess.Popen(child_argv(argv, i, parts), stdin=subprocess.DEVNULL) for i in range(1, parts + 1)]
    try:
        while any(child.poll() is None for child in children):
            time.sleep(POLL)
            progress.done, progress.failed = done_lines.update() - done0, failed_lines.update() - failed0
            on_progress(progress)
    except KeyboardInterrupt:
        for child in children:
            child.wait()
        raise
    finally:
        for child in children:
            if child.poll() is None:
                child.wait()
    broken = [i for i, child in enumerate(children, 1) if child.returncode not in (0, 1)]
    store.open(resume=True)
    try:
        store.write_checkpoint()
        ran_now = _lines(store.trajectories) - done0 + _lines(store.failed) - failed0
        stats = runner._write_statistics(time.perf_counter() - started, ran_now)
    finally:
        store.close()
    if broken:
        sys.stderr.write(f"hermes batch: runner process{'es' if len(broken) > 1 else ''} "
                         f"{', '.join(map(str, broken))} of {parts} stopped early; continue with --resume\n")
        stats["samples"]["failed"] = stats["samples"]["failed"] or len(broken)
    return stats
