"""Batch throughput (SPEC §10): N scripted samples of 5 model calls each (4 terminal calls running
`true`, then an answer) at a given concurrency, local backend, against the scripted server in its
own process with no latency. Not a test: run `python bench/bench_batch.py [--samples 1000 --workers 64]`.

Scaling (issue 19): `--samples 3000 --workers 1000 --latency 2 --tool read_file` -- every model call
waits 2 s in the server, so the ideal is workers / (calls per sample x latency) = 100 samples/s; the
result gives the fraction reached over the whole run and in its steady state (every worker busy).
Reports wall time, samples/s, model calls/s, CPU per sample and the runner tree's peak RSS and PSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_memory_kib(root: int) -> tuple[int, int]:
    """(RSS, PSS) of `root` and all its descendants now (from /proc), in KiB. RSS counts a page
    shared by N processes N times (a thousand sandbox holders share most of theirs); PSS counts 1/N
    of it in each, so their sum is what the tree really takes from the machine."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= new
        grew = bool(new)
    rss = pss = 0
    for pid in tree:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:] if ":" in line)
        rss += int(fields.get("Rss", "0 kB").split()[0])
        pss += int(fields.get("Pss", "0 kB").split()[0])
    return rss, pss


class _PeakTreeMemory(threading.Thread):
    """Samples the runner's whole process tree (every runner process, its shells) every 0.5 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.stop = pid, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            rss, pss = _tree_memory_kib(self.pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)


class _Completions(threading.Thread):
    """When each sample's record was written: reads what was appended to the run's files every
    50 ms (every runner process appends whole lines to the same files) and notes (time, count)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(daemon=True)
        self.paths, self.stop = paths, threading.Event()
        self.marks: list[tuple[float, int]] = []

    def run(self) -> None:
        offsets, count = dict.fromkeys(self.paths, 0), 0
        while not self.stop.wait(0.05):
            for path in self.paths:
                try:
                    with path.open("rb") as fh:
                        fh.seek(offsets[path])
                        data = fh.read()
                except FileNotFoundError:
                    continue
                offsets[path] += len(data)
                count += data.count(b"\n")
            self.marks.append((time.perf_counter(), count))

    def steady_rate(self, first: int, last: int) -> float | None:
        """Samples per second between the `first`-th and the `last`-th completion."""
        t_first = next((t for t, n in self.marks if n >= first), None)
        t_last = next((t for t, n in self.marks if n >= last), None)
        if t_first is None or t_last is None or t_last <= t_first:
            return None
        return (last - first) / (t_last - t_first)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--tool-turns", type=int, default=4)
    parser.add_argument("--tool", choices=["terminal", "read_file"], default="terminal",
                        help="each tool turn: terminal running `true` (a process per call) or read_file of a "
                             "small file (in-process)")
    parser.add_argument("--processes", type=int, default=1, help="hermes batch --processes")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before each reply")
    parser.add_argument("--server", choices=["asyncio", "threaded"], default="asyncio",
                        help="the stand-in endpoint: one event loop (default; ~0.5 ms of CPU per request) or the "
                             "tests' threaded ScriptedLLM (~2.6 ms per request with 1,000 connections open)")
    parser.add_argument("--sandbox", choices=["on", "off"], default="on", help="terminal.sandbox of the runner")
    parser.add_argument("--driver", choices=["auto", "threads", "asyncio"], default="auto", help="hermes batch --driver")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "note.txt").write_text("a short note\n")
        tool_call = ('terminal {"command": "true"}' if args.tool == "terminal"
                     else f'read_file {json.dumps({"path": str(work / "note.txt")})}')
        dataset = work / "prompts.jsonl"
        dataset.write_text("".join(json.dumps({"prompt": f"sample {i}"}) + "\n" for i in range(args.samples)))
        server = subprocess.Popen([sys.executable, "-m", "scripted_server", "--port", "0", "--tool-turns",
                                   str(args.tool_turns), "--latency", str(args.latency), "--tool-call", tool_call]
                                  + (["--asyncio"] if args.server == "asyncio" else []), stdout=subprocess.PIPE, cwd=ROOT, text=True)
        base_url = server.stdout.readline().strip().split()[-1]
        env = dict(os.environ, HERMES_HOME=str(work / "home"), TERMINAL_CWD=str(work))
        if args.sandbox == "off":
            env["TERMINAL_SANDBOX"] = "off"
        try:
            started = time.perf_counter()
            runner = subprocess.Popen(
                [sys.executable, str(ROOT / "hermes"), "batch", str(dataset), "--run-name", "bench", "-q",
                 "--num-workers", str(args.workers), "--distribution", "terminal_file", "--max-turns", "20", "--processes", str(args.processes),
                 *(["--driver", args.driver] if args.driver != "auto" else []),
                 "--base-url", base_url, "--api-key", "x", "--model", "m", "--output-dir", str(work / "data")],
                env=env, cwd=work, stderr=subprocess.PIPE)
            watch = _PeakTreeMemory(runner.pid)
            watch.start()
            run_dir = work / "data/bench"
            done = _Completions([run_dir / "trajectories.jsonl", run_dir / "failed.jsonl"])
            done.start()
            _, status, usage = os.wait4(runner.pid, 0)
            watch.stop.set()
            done.stop.set()
            done.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server_usage = os.wait4(server.pid, 0)[2]
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"batch run failed: {runner.stderr.read().decode()}")
        stats = json.loads((work / "data/bench/statistics.json").read_text())
    calls = stats["api_calls"]
    result = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "samples": args.samples, "workers": args.workers, "processes": args.processes, "tool": args.tool,
        "server": args.server, "sandbox": args.sandbox, "driver": args.driver, "load_average": os.getloadavg(), "model_calls_per_sample": calls / args.samples,
        "completed": stats["samples"]["completed"],
        "wall_s_process": round(wall, 2),
        "wall_s_samples": stats["wall_seconds"],
        "samples_per_s": stats["samples_per_second"],
        "model_calls_per_s": round(calls / stats["wall_seconds"], 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # the largest process: the runner, not a bash
        "peak_rss_mib_all_runner_processes": round(watch.peak_rss / 1024, 1),  # sampled every 0.5 s, summed
        # the same tree's proportional set size: shared pages counted once in all (the memory figure)
        "peak_pss_mib_all_runner_processes": round(watch.peak_pss / 1024, 1),
        "server_peak_rss_mib": round(server_usage.ru_maxrss / 1024, 1),
        # CPU of the runner and its children (bash), per sample: the figure that load on the machine
        # does not change much, unlike wall time
        "runner_cpu_ms_per_sample": round((usage.ru_utime + usage.ru_stime) * 1000 / args.samples, 1),
        "runner_sys_cpu_share": round(usage.ru_stime / max(usage.ru_utime + usage.ru_stime, 1e-9), 2),
        "runner_context_switches_per_sample": round((usage.ru_nvcsw + usage.ru_nivcsw) / args.samples, 1),
        "server_cpu_ms_per_sample": round((server_usage.ru_utime + server_usage.ru_stime) * 1000 / args.samples, 1),
    }
    if args.latency:
        calls_per_sample = args.tool_turns + 1
        ideal = min(args.workers, args.samples) / (calls_per_sample * args.latency)
        result["latency_s"] = args.latency
        result["ideal_samples_per_s"] = round(ideal, 1)
        result["fraction_of_ideal"] = round(stats["samples_per_second"] / ideal, 3)
        # The whole run includes the ramp (the first samples start over START_SPACING x workers) and
        # the drain (the last ones finish with fewer in flight): with as many samples as workers it
        # cannot reach the ideal even at zero cost. Between the `workers`-th and the
        # (samples - workers)-th completion every worker has a sample in flight: that is the
        # throughput at this concurrency (needs samples >= 3 x workers for a window of `workers`).
        workers = min(args.workers, args.samples)
        if args.samples >= 3 * workers:
            steady = done.steady_rate(workers, args.samples - workers)
            result["steady_window"] = f"completions {workers}..{args.samples - workers}"
            result["steady_samples_per_s"] = steady and round(steady, 1)
            result["steady_fraction_of_ideal"] = steady and round(steady / ideal, 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
