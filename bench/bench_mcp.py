"""MCP start-up cost. Not a test: run `python bench/bench_mcp.py` and read the table.

Measures, against the scripted server (hermes runs as a child, cold each time):
  - `./hermes -p hi` with no MCP server configured: wall time, and how many `mcp` SDK modules were
    imported (must be 0: the SDK is imported only when `mcp_servers:` names an enabled server)
  - the same with one stdio server configured (the SDK's own test-style server), where the one-shot
    run waits for the server before its first model call
  - `./hermes --list-tools` with that server configured
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripted_server import Reply, ScriptedLLM  # noqa: E402

HERMES = [sys.executable, str(ROOT / "hermes")]
SDK_MODULE = re.compile(r"\|\s+(mcp|mcp_types)(\.|$)")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return time.perf_counter() - started, proc.stderr


def sdk_modules(args: list[str], env: dict[str, str]) -> int:
    """Modules of the mcp SDK imported by a run (python -X importtime)."""
    _, err = timed([sys.executable, "-X", "importtime", *args[1:]], env)
    return sum(1 for line in err.splitlines() if SDK_MODULE.search(line))


def main(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = dict(os.environ, HERMES_HOME=str(home), HERMES_LOG_DIR=str(home / "logs"))
        for name in [n for n in env if n.endswith(("_API_KEY", "_BASE_URL"))]:
            env.pop(name)
        with ScriptedLLM(lambda body, i: Reply(content="hello")) as llm:
            args = [*HERMES, "-p", "hi", "--base-url", llm.base_url, "--model", "m"]
            timed(args, env)  # warm the page cache
            bare = statistics.median(timed(args, env)[0] for _ in range(runs))
            bare_modules = sdk_modules(args, env)

            from tests.extensions.servers import write_stdio_server

            script = write_stdio_server(Path(tmp))
            (home / "config.yaml").write_text(
                f"mcp_servers:\n  demo:\n    command: {sys.executable}\n    args: [{script}]\n", encoding="utf-8")
            with_server = statistics.median(timed(args, env)[0] for _ in range(runs))
            server_modules = sdk_modules(args, env)
            listing = statistics.median(timed([*HERMES, "--list-tools"], env)[0] for _ in range(max(runs // 2, 1)))
    rows = [
        ("-p hi, no MCP server configured", f"{bare * 1000:.0f} ms", f"{bare_modules} mcp SDK modules imported"),
        ("-p hi, one stdio server configured", f"{with_server * 1000:.0f} ms",
         f"{server_modules} mcp SDK modules imported (waits for the server)"),
        ("--list-tools, one stdio server", f"{listing * 1000:.0f} ms", ""),
    ]
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, median of {runs}")
    for row in rows:
        print(f"  {row[0]:<38} {row[1]:>9}  {row[2]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
