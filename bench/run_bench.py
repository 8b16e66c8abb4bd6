"""Benchmarks for SPEC §10 budgets. Not a test: run `python bench/run_bench.py` and read the table.

Measures, against the scripted server with no latency (in this process; hermes runs as a child):
  - cold `./hermes --version`
  - cold `./hermes -p hi` (wall time and peak RSS of the child)
  - `./hermes` in a pseudo-terminal: time until the REPL prompt is drawn
  - bytes of the first request with all default toolsets
  - harness overhead per tool turn: (T(50-turn run) - T(1-turn run)) / 49 with `true` as the command
  - session logging cost per message at message 1,000 versus message 1
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripted_server import Reply, ScriptedLLM, ToolCall  # noqa: E402

HERMES = [sys.executable, str(ROOT / "hermes")]


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss, proc.returncode


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def bench_version(env: dict[str, str], runs: int = 20) -> float:
    run_child([*HERMES, "--version"], env)  # warm the page cache
    return median_ms([run_child([*HERMES, "--version"], env)[0] for _ in range(runs)])


def turn_script(tool_turns: int):
    def respond(body: dict, index: int) -> Reply:
        calls_so_far = sum(1 for m in body["messages"] if m["role"] == "tool")
        if calls_so_far < tool_turns:
            return Reply(tool_calls=[ToolCall("terminal", {"command": "true"})])
        return Reply(content="done")
    return respond


def bench_oneshot(env: dict[str, str], runs: int = 10) -> dict:
    with ScriptedLLM(lambda body, i: Reply(content="hello")) as llm:
        args = [*HERMES, "-p", "hi", "--base-url", llm.base_url, "--api-key", "x", "--model", "m"]
        run_child(args, env)
        results = [run_child(args, env) for _ in range(runs)]
        first_request = len(json.dumps(llm.chat_requests[0].body))
    return {
        "oneshot_ms": median_ms([r[0] for r in results]),
        "oneshot_peak_mib": round(max(r[1] for r in results) / 1024, 1),
        "first_request_bytes": first_request,
    }


def bench_repl_start(env: dict[str, str], runs: int = 10) -> dict:
    """Spawn to the first drawn prompt, in a pty as a user sees it (the SDK loads after the prompt)."""
    import pexpect

    env = dict(env, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    args = [str(ROOT / "hermes"), "--base-url", "http://127.0.0.1:9/v1", "--api-key", "x", "--model", "m"]
    times = []
    for _ in range(runs + 1):  # the first run warms the page cache
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", dimensions=(40, 120), timeout=30)
        child.expect("❯")
        times.append(time.perf_counter() - started)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
    return {"repl_prompt_ms": median_ms(times[1:])}


class ServerProcess:
    """The scripted server in its own process, so it does not compete with the bench for the GIL."""

    def __init__(self, replies: list[dict]) -> None:
        self.script = tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".json", delete=False)
        json.dump(replies, self.script)
        self.script.close()

    def __enter__(self) -> str:
        self.proc = subprocess.Popen([sys.executable, "-m", "scripted_server", "--port", "0", "--script",
                                      self.script.name], stdout=subprocess.PIPE, cwd=ROOT, text=True)
        return self.proc.stdout.readline().strip().split()[-1]

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()
        os.unlink(self.script.name)


def tool_turns_script(tool_turns: int) -> list[dict]:
    call = {"tool_calls": [{"name": "terminal", "arguments": {"command": "true"}}]}
    return [call] * tool_turns + [{"content": "done"}]


def bench_turns(env: dict[str, str], turns: int = 50, runs: int = 5) -> dict:
    def timed(tool_turns: int) -> float:
        walls = []
        for _ in range(runs):
            with ServerProcess(tool_turns_script(tool_turns)) as base_url:
                args = [*HERMES, "-p", "go", "--base-url", base_url, "--api-key", "x", "--model", "m",
                        "--max-turns", str(tool_turns + 5)]
                walls.append(run_child(args, env)[0])
        return statistics.median(walls)

    short, long = timed(0), timed(turns - 1)
    return {"per_tool_turn_ms": round((long - short) / (turns - 1) * 1000, 2), "fifty_turn_run_ms": round(long * 1000),
            **turn_breakdown(turns)}


def turn_breakdown(turns: int) -> dict:
    """In-process split of one tool turn: model round trip (SDK + server), the `true` command, the rest."""
    import model_tools
    import run_agent
    from agent import llm

    spent = {"llm": 0.0, "tool": 0.0}

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - started
        return wrapper

    run_agent.llm.complete = timed("llm", llm.complete)
    run_agent.model_tools.handle_function_call = timed("tool", model_tools.handle_function_call)
    with ServerProcess(tool_turns_script(turns - 1)) as base_url, tempfile.TemporaryDirectory() as tmp:
        agent = run_agent.AIAgent(model="m", base_url=base_url, api_key="x", log_directory=Path(tmp))
        agent._ensure_ready()
        started = time.perf_counter()
        agent.run_conversation("go")
        total = time.perf_counter() - started
        agent.close()
    n = agent.api_calls
    return {"turn_llm_roundtrip_ms": round(spent["llm"] / n * 1000, 2),
            "turn_command_ms": round(spent["tool"] / (n - 1) * 1000, 2),
            "turn_harness_rest_ms": round((total - spent["llm"] - spent["tool"]) / n * 1000, 2)}


def bench_logging(messages: int = 1000) -> dict:
    from recording.recorder import SessionRecorder

    tools = [{"type": "function", "function": {"name": "terminal", "description": "run", "parameters": {}}}]
    with tempfile.TemporaryDirectory() as tmp:
        recorder = SessionRecorder("bench", Path(tmp), model="m", tools=tools)
        costs = []
        for i in range(messages):
            message = ({"role": "user", "content": f"message {i} " + "x" * 200} if i % 2 == 0 else
                       {"role": "assistant", "content": f"reply {i} " + "y" * 300})
            started = time.perf_counter()
            recorder.record_message(message)
            costs.append(time.perf_counter() - started)
        recorder.close("done")
    first, last = statistics.median(costs[:20]), statistics.median(costs[-20:])
    return {"log_msg_1_us": round(first * 1e6), "log_msg_1000_us": round(last * 1e6), "log_ratio": round(last / first, 2)}


def main() -> None:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as home:
        env.update(HERMES_HOME=home, HERMES_LOG_DIR=str(Path(home) / "logs"))
        results = {
            "date": str(date.today()),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "version_ms": bench_version(env),
            **bench_oneshot(env),
            **bench_repl_start(env),
            **bench_turns(env),
            **bench_logging(),
        }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{results['date']}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    budgets = {"version_ms": 60, "oneshot_ms": 900, "oneshot_peak_mib": 80, "repl_prompt_ms": 500, "first_request_bytes": 16384,
               "per_tool_turn_ms": 8, "log_ratio": 2}
    print("| measure | result | budget |\n|---|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value} | {budgets.get(key, '')} |")


if __name__ == "__main__":
    main()
