"""Per-sample tool tallies (the seed's `tool_stats`, zero-filled) and the run's statistics.json."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.events import Event, ToolEnd


@dataclass
class ToolTally:
    """Counts one sample's tool calls from the agent's events (called from tool worker threads)."""

    counts: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, event: Event) -> None:
        if isinstance(event, ToolEnd):
            with self._lock:
                self.counts[event.name] += 1
                if not event.ok:
                    self.failures[event.name] += 1

    def tool_stats(self, known: list[str]) -> dict[str, dict[str, int]]:
        """Every known tool, zero-filled, so each row has the same Arrow schema in HF `datasets`."""
        names = sorted({*known, *self.counts})
        return {name: {"count": self.counts[name], "success": self.counts[name] - self.failures[name],
                       "failure": self.failures[name]} for name in names}

    def error_counts(self, known: list[str]) -> dict[str, int]:
        return {name: self.failures[name] for name in sorted({*known, *self.counts})}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_statistics(completed: list[dict[str, Any]], failed: list[dict[str, Any]], *, wall_seconds: float,
                   ran_now: int, header: dict[str, Any]) -> dict[str, Any]:
    """Statistics over every attempt recorded for the run; a sample that later succeeded is not a failure."""
    done = {r["sample_key"] for r in completed}
    latest_failures: dict[str, dict[str, Any]] = {}
    for record in failed:
        if record["sample_key"] not in done:
            latest_failures[record["sample_key"]] = record
    finished = completed + list(latest_failures.values())
    tools: dict[str, dict[str, int]] = {}
    for record in finished:
        for name, tally in record.get("tool_stats", {}).items():
            total = tools.setdefault(name, {"count": 0, "success": 0, "failure": 0})
            for key in total:
                total[key] += tally.get(key, 0)
    durations = [r["duration_seconds"] for r in finished if "duration_seconds" in r]
    tokens = Counter()
    for record in finished:
        tokens.update({k: v for k, v in record.get("usage", {}).items() if isinstance(v, (int, float))})
    chosen = Counter(name for r in finished for name in r.get("toolsets_used", []))
    rewards = [r["reward"] for r in finished if isinstance(r.get("reward"), (int, float))]
    verifier_errors = sum(1 for r in finished if (r.get("verifier") or {}).get("error"))
    return {
        **header,
        "samples": {"completed": len(completed), "failed": len(latest_failures), "ran_this_time": ran_now},
        "wall_seconds": round(wall_seconds, 3),
        "samples_per_second": round(ran_now / wall_seconds, 2) if wall_seconds > 0 else None,
        "api_calls": sum(r.get("api_calls", 0) for r in finished),
        "tokens": {"prompt": int(tokens["prompt_tokens"]), "completion": int(tokens["completion_tokens"]),
                   "total": int(tokens["total_tokens"])},
        "durations": {
            "mean": round(statistics.fmean(durations), 3), "p50": round(_percentile(durations, 0.5), 3),
            "p95": round(_percentile(durations, 0.95), 3), "max": round(max(durations), 3),
        } if durations else {},
        "tools": {name: tally for name, tally in sorted(tools.items()) if tally["count"]},
        "failures_by_reason": dict(Counter(r.get("reason", "error") for r in latest_failures.values())),
        "toolsets_chosen": dict(sorted(chosen.items())),
        # verifier rewards (--verify / a row's `verify`): how many samples have one, their mean
        **({"rewards": {"scored": len(rewards), "mean": round(statistics.fmean(rewards), 4),
                        "verifier_errors": verifier_errors}} if rewards or verifier_errors else {}),
    }
