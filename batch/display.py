"""The batch run on screen: a rich progress bar while it runs, a summary table at the end (stderr)."""

from __future__ import annotations

import sys
import time
from typing import Any

from batch.runner import Progress


class ProgressDisplay:
    """Bar with done/total, rate, ETA, failures and tokens. Without a terminal it prints a line
    every few seconds instead, so a log file shows the run moving."""

    LINE_EVERY = 5.0

    def __init__(self, title: str, enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._started = time.monotonic()
        self._last_line = 0.0
        self._tty = sys.stderr.isatty()

    def __enter__(self) -> ProgressDisplay:
        if self.enabled and self._tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("[red]{task.fields[failed]} failed[/red] · {task.fields[tokens]} tokens"),
                console=Console(stderr=True), transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.title, total=None, rate="", failed=0, tokens="0")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, progress: Progress) -> None:
        if not self.enabled:
            return
        finished = progress.done + progress.failed
        if finished == 0:  # the clock starts when the samples do, not when the SDK was imported
            self._started = time.monotonic()
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = f"{finished / elapsed:.1f}/s" if finished else ""
        if self._bar is not None:
            self._bar.update(self._task, total=progress.total, completed=finished, rate=rate,
                             failed=progress.failed, tokens=f"{progress.tokens:,}")
            return
        now = time.monotonic()
        if finished == progress.total or now - self._last_line >= self.LINE_EVERY:
            self._last_line = now
            sys.stderr.write(f"{self.title}: {finished}/{progress.total} · {rate or '-'} · "
                             f"{progress.failed} failed · {progress.tokens:,} tokens\n")


def print_summary(stats: dict[str, Any], run_dir: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    samples = stats["samples"]
    table = Table(title=f"batch run {stats['run_name']}", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("samples", f"{samples['completed']} completed · {samples['failed']} failed · "
                             f"{samples['ran_this_time']} ran now (of {stats['dataset_samples']} in the dataset)")
    rate = stats.get("samples_per_second")
    table.add_row("time", f"{stats['wall_seconds']:.1f} s" + (f" · {rate} samples/s" if rate else ""))
    tokens = stats["tokens"]
    table.add_row("tokens", f"{tokens['prompt']:,} in · {tokens['completion']:,} out · {stats['api_calls']} model calls")
    if stats.get("durations"):
        d = stats["durations"]
        table.add_row("per sample", f"mean {d['mean']} s · p50 {d['p50']} s · p95 {d['p95']} s · max {d['max']} s")
    for name, tally in stats.get("tools", {}).items():
        table.add_row(f"  {name}", f"{tally['count']} calls · {tally['failure']} failed")
    for reason, count in stats.get("failures_by_reason", {}).items():
        table.add_row(f"  failed: {reason}", str(count))
    table.add_row("output", run_dir)
    console.print(table)
