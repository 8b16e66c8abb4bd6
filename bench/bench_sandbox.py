"""What the bubblewrap sandbox costs per command. Not a test: run `python bench/bench_sandbox.py`.

  - raw: `bash -c true` versus the same inside the sandbox (one process each): entering the
    environment's prebuilt namespaces (setpriv + nsenter, the default) and a bwrap per command (the
    fallback without util-linux 2.38)
  - local backend: latency and CPU (hermes + children) of `true` through LocalEnvironment.execute
    (state restored and saved), without a sandbox and with workspace-write both ways; runs are
    interleaved so machine noise hits all of them
  - cold: the first command of a new environment (the sandbox also starts its holder and mounts)
Results go to bench/results/sandbox-<date>.json, with the load average.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.environments import sandbox as sb  # noqa: E402
from tools.environments.local import LocalEnvironment  # noqa: E402

RUNS = 60


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, *args, **kwargs) -> tuple[float, float]:
    """(wall, CPU of this process and its children) of one call."""
    started, started_cpu = time.perf_counter(), cpu()
    fn(*args, **kwargs)
    return time.perf_counter() - started, cpu() - started_cpu


def run_in(box: sb.Sandbox, argv: list[str], state: str, cwd: str) -> None:
    with box.command(argv, state, cwd=cwd) as (wrapped, fds):
        subprocess.run(wrapped, pass_fds=fds, cwd=cwd, check=True)


def main() -> None:
    problem = sb.probe()
    if problem:
        sys.exit(f"bench_sandbox: {problem}")
    if sb.sandbox_ns.joiner() is None:
        print("note: no nsenter with --wdns here; both sandbox columns are a bwrap per command")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hermes-bench-") as ws:
        spec = sb.spec_for(sb.WORKSPACE_WRITE, ws)
        kinds = {"joined": lambda: sb.Sandbox(spec), "bwrap": lambda: sb.Sandbox(spec, join=False)}
        state = tempfile.mkdtemp(prefix="hermes-bench-state-")
        raw: dict[str, list[tuple[float, float]]] = {"bash": [], "joined": [], "bwrap": []}
        boxes = {kind: make() for kind, make in kinds.items()}
        for _ in range(RUNS):
            raw["bash"].append(timed(subprocess.run, ["bash", "-c", "true"], check=True))
            for kind, box in boxes.items():
                raw[kind].append(timed(run_in, box, ["bash", "-c", "true"], state, ws))
        for box in boxes.values():
            box.close()

        cold: dict[str, list[tuple[float, float]]] = {"none": [], "joined": [], "bwrap": []}
        for _ in range(10):
            envs = {"none": LocalEnvironment(cwd=ws)}
            envs.update({kind: LocalEnvironment(cwd=ws, sandbox=make()) for kind, make in kinds.items()})
            for kind, env in envs.items():
                cold[kind].append(timed(env.execute, "true", timeout=30))
                env.cleanup()

        envs = {"none": LocalEnvironment(cwd=ws)}
        envs.update({kind: LocalEnvironment(cwd=ws, sandbox=make()) for kind, make in kinds.items()})
        warm: dict[str, list[tuple[float, float]]] = {kind: [] for kind in envs}
        for env in envs.values():
            env.execute("cd . && export BENCH=1", timeout=30)
        for _ in range(RUNS):
            for kind, env in envs.items():
                warm[kind].append(timed(env.execute, "true", timeout=30))
        for env in envs.values():
            env.cleanup()

    def wall(rows: list[tuple[float, float]]) -> float:
        return ms([w for w, _ in rows])

    def cpu_ms(rows: list[tuple[float, float]]) -> float:
        return round(sum(c for _, c in rows) / len(rows) * 1000, 2)

    results = {
        "raw_bash_ms": wall(raw["bash"]), "raw_joined_bash_ms": wall(raw["joined"]),
        "raw_bwrap_bash_ms": wall(raw["bwrap"]),
        "raw_bash_cpu_ms": cpu_ms(raw["bash"]), "raw_joined_bash_cpu_ms": cpu_ms(raw["joined"]),
        "raw_bwrap_bash_cpu_ms": cpu_ms(raw["bwrap"]),
        "local_warm_ms": wall(warm["none"]), "local_sandboxed_warm_ms": wall(warm["joined"]),
        "local_bwrap_warm_ms": wall(warm["bwrap"]),
        "local_warm_cpu_ms": cpu_ms(warm["none"]), "local_sandboxed_warm_cpu_ms": cpu_ms(warm["joined"]),
        "local_bwrap_warm_cpu_ms": cpu_ms(warm["bwrap"]),
        "sandbox_cpu_per_command_ms": round(cpu_ms(warm["joined"]) - cpu_ms(warm["none"]), 2),
        "local_cold_ms": wall(cold["none"]), "local_sandboxed_cold_ms": wall(cold["joined"]),
        "local_bwrap_cold_ms": wall(cold["bwrap"]),
        "local_cold_cpu_ms": cpu_ms(cold["none"]), "local_sandboxed_cold_cpu_ms": cpu_ms(cold["joined"]),
        "local_bwrap_cold_cpu_ms": cpu_ms(cold["bwrap"]), "runs": RUNS,
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    for key, value in results.items():
        print(f"{key:32} {value}")
    out = ROOT / "bench" / "results" / f"sandbox-{date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
