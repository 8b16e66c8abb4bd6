"""Terminal backend latency. Not a test: run `python bench/bench_backends.py` (as root) and read the table.

For local, docker and ssh:
  - cold: time to the first command's result in a new task (environment start + `true`)
  - warm: median per-command latency of `true` in a running task (cwd/env restored and saved)
The docker and ssh backends run against our own dockerd and loopback sshd, started exactly as the
tests start them (tests/backends/backend_daemons.py); they are skipped with a reason when absent.
Results go to bench/results/backends-<date>.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "backends")]

import backend_daemons as daemons  # noqa: E402

from tools.environments import manager  # noqa: E402

WARM_RUNS = 30
COLD_RUNS = 5


def measure(backend: str) -> dict[str, float]:
    os.environ["TERMINAL_ENV"] = backend
    cold = []
    for i in range(COLD_RUNS):
        started = time.perf_counter()
        manager.get_environment(f"cold-{i}").execute("true", timeout=60)
        cold.append(time.perf_counter() - started)
        manager.cleanup_environment(f"cold-{i}")
    env = manager.get_environment("warm")
    env.execute("cd /tmp && export BENCH=1", timeout=60)
    warm = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        result = env.execute("true", timeout=60)
        warm.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output
    manager.cleanup_environment("warm")
    return {"cold_ms": round(statistics.median(cold) * 1000, 1), "warm_ms": round(statistics.median(warm) * 1000, 1)}


def main() -> None:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="hermes-bench-") as scratch:
        base = Path(scratch)
        os.environ["TERMINAL_CWD"] = scratch
        results["local"] = measure("local")
        reason = daemons.docker_skip_reason()
        if reason is None:
            dockerd = daemons.start_dockerd(base / "dockerd")
            try:
                os.environ.update(DOCKER_HOST=dockerd.host, TERMINAL_DOCKER_NETWORK="none",
                                  TERMINAL_DOCKER_IMAGE=daemons.build_test_image(dockerd, base / "dockerd"))
                results["docker"] = measure("docker")
            finally:
                manager.cleanup_all()
                daemons.stop_process(dockerd.proc)
        else:
            results["docker"] = {"skipped": reason}
        reason = daemons.sshd_skip_reason()
        if reason is None:
            sshd = daemons.start_sshd(base / "sshd")
            if os.environ.get("BENCH_SSH_USER"):  # that user's sshd child must read authorized_keys
                for path in (base, base / "sshd"):
                    path.chmod(0o755)
                (base / "sshd" / "authorized_keys").chmod(0o644)
            try:
                # BENCH_SSH_USER: log in as another (unprivileged) user whose login shell starts fast.
                os.environ.update(TERMINAL_SSH_HOST="127.0.0.1", TERMINAL_SSH_PORT=str(sshd.port),
                                  TERMINAL_SSH_USER=os.environ.get("BENCH_SSH_USER", sshd.user), TERMINAL_SSH_KEY=str(sshd.client_key),
                                  TERMINAL_SSH_KNOWN_HOSTS=str(sshd.known_hosts))
                results["ssh"] = measure("ssh")
            finally:
                manager.cleanup_all()
                daemons.stop_process(sshd.proc)
        else:
            results["ssh"] = {"skipped": reason}
    print(f"{'backend':8} {'cold (first command)':>22} {'warm (per command)':>20}")
    for name, figures in results.items():
        if "skipped" in figures:
            print(f"{name:8} skipped: {figures['skipped']}")
        else:
            print(f"{name:8} {figures['cold_ms']:>19} ms {figures['warm_ms']:>17} ms")
    out = ROOT / "bench" / "results" / f"backends-{date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
