"""What the bubblewrap sandbox costs per command. Not a test: run `python bench/bench_sandbox.py`.

  - raw: `bash -c true` versus the same inside bwrap with the sandbox's mounts (one process each)
  - local backend: median latency of `true` through LocalEnvironment.execute (state restored and
    saved), without a sandbox and with workspace-write; runs are interleaved so machine noise hits both
  - cold: the first command of a new environment (the sandbox also starts its pid-namespace holder)
Results go to bench/results/sandbox-<date>.json.
"""

from __future__ import annotations

import json
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


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


def main() -> None:
    problem = sb.probe()
    if problem:
        sys.exit(f"bench_sandbox: {problem}")
    with tempfile.TemporaryDirectory(prefix="hermes-bench-") as ws:
        spec = sb.spec_for(sb.WORKSPACE_WRITE, ws)
        box = sb.Sandbox(spec)
        state = tempfile.mkdtemp(prefix="hermes-bench-state-")
        raw_plain, raw_box = [], []
        for _ in range(RUNS):
            raw_plain.append(timed(subprocess.run, ["bash", "-c", "true"], check=True))
            argv = box.wrap(["bash", "-c", "true"], state)
            raw_box.append(timed(subprocess.run, argv, pass_fds=box.pass_fds, check=True))
        box.close()

        cold_plain, cold_box = [], []
        for _ in range(5):
            plain = LocalEnvironment(cwd=ws)
            cold_plain.append(timed(plain.execute, "true", timeout=30))
            boxed = LocalEnvironment(cwd=ws, sandbox=sb.Sandbox(spec))
            cold_box.append(timed(boxed.execute, "true", timeout=30))
            plain.cleanup()
            boxed.cleanup()

        plain = LocalEnvironment(cwd=ws)
        boxed = LocalEnvironment(cwd=ws, sandbox=sb.Sandbox(spec))
        warm_plain, warm_box = [], []
        for env in (plain, boxed):
            env.execute("cd . && export BENCH=1", timeout=30)
        for _ in range(RUNS):
            warm_plain.append(timed(plain.execute, "true", timeout=30))
            warm_box.append(timed(boxed.execute, "true", timeout=30))
        plain.cleanup()
        boxed.cleanup()

    results = {
        "raw_bash_ms": ms(raw_plain), "raw_bwrap_bash_ms": ms(raw_box),
        "local_warm_ms": ms(warm_plain), "local_sandboxed_warm_ms": ms(warm_box),
        "sandbox_cost_per_command_ms": round(ms(warm_box) - ms(warm_plain), 2),
        "local_cold_ms": ms(cold_plain), "local_sandboxed_cold_ms": ms(cold_box), "runs": RUNS,
    }
    for key, value in results.items():
        print(f"{key:32} {value}")
    out = ROOT / "bench" / "results" / f"sandbox-{date.today()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
