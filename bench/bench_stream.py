"""Streaming throughput: 10 MB of tool-call arguments vs 10 MB of answer text. Not a test: run
`python bench/bench_stream.py` and read the table.

The scripted server runs in its own process (`python -m scripted_server --script`), so its CPU
does not share the client's GIL. Each case runs in a fresh client process that streams the reply
through the real openai SDK and `agent.llm.complete` (the layer the agent uses), --repeat times:

  args        one tool call whose JSON arguments are SIZE characters, streamed in --chunk-chars pieces
  text        an answer of SIZE characters, streamed in --chunk-chars pieces
  agent-args  the whole agent (AIAgent, recording on): the same tool call runs write_file, then "done"
  agent-text  the whole agent (recording on): the same answer, with a text event per chunk

Reported: the median wall time (server included), the client process's CPU time, MB/s, and memory: the client's RSS after imports and its peak
(the peak can stay flat: memory freed after the imports is reused), and the Python heap's peak
during one extra call (tracemalloc; that call is not timed).
Target (issue 15): arguments within 2x of text. Before the fix, arguments were joined with `+=`
(quadratic): 1 MB took 37 s, 10 MB did not finish in 600 s.

    python bench/bench_stream.py [--size-mb 10] [--chunk-chars 64] [--repeat 3] [--cases args,text]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ["args", "text", "agent-args", "agent-text"]


def _reply(case: str, size: int, chunk_chars: int, target: Path) -> list[dict]:
    if case.endswith("args"):
        call = {"name": "write_file", "arguments": {"path": str(target), "content": "x" * size}}
        first = {"tool_calls": [call], "chunk_chars": chunk_chars}
        return [first, {"content": "done"}] if case.startswith("agent") else [first]
    return [{"content": ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size], "chunk_chars": chunk_chars}]


def _rss_kb() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: after fork+exec Linux reports the larger of
    the parent's and the child's peak there."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def client(url: str, case: str, repeat: int) -> dict:
    """One case in this process: timings of `repeat` calls, then one traced call for the heap peak."""
    import tracemalloc

    from agent import llm
    from agent.retry import RetryPolicy
    from run_agent import AIAgent

    params = {"model": "bench", "messages": [{"role": "user", "content": "go"}]}
    sdk = llm.make_client(url, "bench-key")
    if case.startswith("agent"):
        import model_tools

        model_tools.load_tools()
    baseline = _rss_kb()
    policy = RetryPolicy(max_attempts=1, deadline=600, stall_timeout=120)

    def once() -> int:
        if not case.startswith("agent"):
            result = llm.complete(sdk, params, stall_timeout=120)
            return len(result.content) + sum(len(c["function"]["arguments"]) for c in result.tool_calls)
        with tempfile.TemporaryDirectory() as logs:
            agent = AIAgent(model="bench", base_url=url, api_key="bench-key", client=sdk, retry_policy=policy,
                            enabled_toolsets=["file"], yolo=True, log_directory=Path(logs),
                            on_event=lambda event: None)
            run = agent.run_conversation("go")
            agent.close()
            assert run["status"] == "success", run["error"]
            return len(run["final_response"] or "")

    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        received = once()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    peak_rss = _rss_kb()
    tracemalloc.start()
    once()
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"times": times, "cpu": cpu, "received": received, "rss_base_mb": baseline / 1024, "rss_peak_mb": peak_rss / 1024,
            "heap_peak_mb": heap_peak / 2**20}


def run_case(case: str, size: int, chunk_chars: int, repeat: int, workdir: Path) -> dict:
    script = workdir / f"{case}.json"
    target = workdir / "written.txt"
    replies = _reply(case, size, chunk_chars, target) * (repeat + 1)
    script.write_text(json.dumps(replies), encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "scripted_server", "--script", str(script), "--port", "0"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        out = subprocess.run([sys.executable, __file__, "--client", url, "--cases", case, "--repeat", str(repeat)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--chunk-chars", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="args,text,agent-args,agent-text")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(args.client, args.cases, args.repeat)))
        return
    size = int(args.size_mb * 1_000_000)
    print(f"streaming {args.size_mb:g} MB in {args.chunk_chars}-character chunks "
          f"({size // args.chunk_chars:,} chunks), {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"{'case':<12} {'median s':>9} {'client CPU s':>13} {'MB/s':>7} {'RSS MB (imports -> peak)':>25} "
          f"{'heap peak MB':>13}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            result = results[case] = run_case(case, size, args.chunk_chars, args.repeat, Path(tmp))
            median = statistics.median(result["times"])
            rss = f"{result['rss_base_mb']:.0f} -> {result['rss_peak_mb']:.0f}"
            cpu = statistics.median(result["cpu"])
            print(f"{case:<12} {median:>9.2f} {cpu:>13.2f} {size / median / 1e6:>7.2f} {rss:>25} "
                  f"{result['heap_peak_mb']:>13.1f}", flush=True)
    if "args" in results and "text" in results:
        ratio = statistics.median(results["args"]["times"]) / statistics.median(results["text"]["times"])
        cpu_ratio = statistics.median(results["args"]["cpu"]) / statistics.median(results["text"]["cpu"])
        print(f"arguments / text: {ratio:.2f}x wall, {cpu_ratio:.2f}x client CPU (target: within 2x)")


if __name__ == "__main__":
    main()
