"""Export throughput: `hermes export` over a generated corpus of recorded sessions. Not a test:
run `python bench/bench_export.py` and read the table.

1. Builds the toy BPE tokenizer (exports/toy_tokenizer.py: offline, Hermes/ChatML template).
2. Writes N session logs (default 1,000) with the agent's own SessionRecorder: the real system
   prompt and tool schemas, 1-6 terminal/file rounds with outputs of 0.1-3 KB, a final answer.
   70% were "recorded with --rollout": every call carries the prompt ids the template gives, the
   completion ids and per-token logprobs, as a vLLM server would return them. The rest carry text
   only, so their rollout is re-rendered (`retokenized`). 5% of runs ended in an error.
3. Runs `hermes export LOGDIR --format F` --repeat times (default 3) per format, each in a fresh
   process, and reports the median run's sessions/s and tokens/s (time inside `cli.main`,
   tokenizer loading included), its wall time, and the highest peak RSS of the runs: of the
   exporting process, and of any one worker it forked (token formats convert sessions in one
   worker per CPU, up to 4; a worker's peak counts the pages it shares with its parent). Tokens
   are counted with the same toy tokenizer: for sharegpt the turn values of the written records,
   for token formats the written sequences.

    python bench/bench_export.py [--sessions 1000] [--repeat 3] [--keep DIR] [--formats sharegpt,rollout]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = ["sharegpt", "openai", "atif", "rollout", "atropos", "verl"]
WORDS = ("build test file error output python module import function value config path line return "
         "check status update install run list read write patch search result commit branch").split()


# -- corpus ----------------------------------------------------------------------------------------
def _text(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def _render(hf: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[int]:
    server = []
    for m in messages:
        m = dict(m)
        m["content"] = m.get("content") or ""
        if m.get("tool_calls"):
            m["tool_calls"] = [dict(c, function=dict(c["function"], arguments=json.loads(c["function"]["arguments"])))
                               for c in m["tool_calls"]]
        server.append(m)
    return list(hf.apply_chat_template(server, tools=tools, add_generation_prompt=True, tokenize=True,
                                       return_dict=True)["input_ids"])


def _assistant_text(message: dict[str, Any]) -> str:
    """What the toy template renders for an assistant turn, i.e. what the model sampled."""
    text = f"<think>\n{message['reasoning']}\n</think>\n" if message.get("reasoning") else ""
    text += message.get("content") or ""
    for i, call in enumerate(message.get("tool_calls") or []):
        if i or message.get("content"):
            text += "\n"
        args = json.loads(call["function"]["arguments"])
        text += '<tool_call>\n{"name": "' + call["function"]["name"] + '", "arguments": ' + json.dumps(args) + "}\n</tool_call>"
    return text + "<|im_end|>"


class _Session:
    """One generated session, written through the agent's own SessionRecorder."""

    def __init__(self, recorder: Any, hf: Any, rng: random.Random, system: str, tools: list[dict[str, Any]],
                 capture: bool, counts: dict[str, int]) -> None:
        self.recorder, self.hf, self.rng = recorder, hf, rng
        self.system, self.tools, self.capture, self.counts = system, tools, capture, counts
        self.messages: list[dict[str, Any]] = []

    def add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.recorder.record_message(message)

    def reply(self, message: dict[str, Any], call: int, finish: str) -> None:
        """An llm_call event (with the ids a vLLM server would return, if captured), then the reply."""
        fields: dict[str, Any] = {"prompt_token_ids": None, "completion_token_ids": None, "logprobs": None}
        if self.capture:
            prompt = _render(self.hf, [{"role": "system", "content": self.system}, *self.messages], self.tools)
            completion = self.hf.encode(_assistant_text(message), add_special_tokens=False)
            fields = {"prompt_token_ids": prompt, "completion_token_ids": completion,
                      "logprobs": [{"token": self.hf.decode([t]), "logprob": round(-self.rng.random() * 2, 4)}
                                   for t in completion]}
        self.recorder.record_llm_call(
            call=call, attempts=1, model="nous/hermes-4-14b", params={"stream": True},
            prompt_messages=len(self.messages), finish_reason=finish,
            usage={"prompt_tokens": 1000 + 300 * call, "completion_tokens": 60}, latency=0.8,
            token_source="server" if self.capture else None,
            completion_message=message if self.capture else None, **fields)
        self.add(message)
        self.counts["llm_calls"] += 1
        self.counts["with_token_ids"] += self.capture


def generate(directory: Path, sessions: int, hf: Any, seed: int = 0) -> dict[str, int]:
    import model_tools
    from agent.prompts import build_system_prompt
    from recording.paths import new_session_id
    from recording.recorder import SessionRecorder

    rng = random.Random(seed)
    tools = model_tools.get_tool_definitions(["terminal", "file"])
    system = build_system_prompt(None, None, with_tools=True)
    counts = {"sessions": 0, "llm_calls": 0, "with_token_ids": 0, "messages": 0}
    for number in range(sessions):
        capture = rng.random() < 0.7
        recorder = SessionRecorder(new_session_id(), directory, model="nous/hermes-4-14b", tools=tools,
                                   metadata={"mode": "oneshot", "system_prompt": system, "token_capture": capture,
                                             "ephemeral_system_prompt": False})
        session = _Session(recorder, hf, rng, system, tools, capture, counts)
        session.add({"role": "user", "content": f"Task {number}: " + _text(rng, rng.randint(40, 300))})
        rounds = rng.randint(1, 6)
        for call in range(1, rounds + 1):
            tool = rng.choice(["terminal", "read_file"])
            args = ({"command": f"grep -rn {rng.choice(WORDS)} src/"} if tool == "terminal"
                    else {"path": f"src/{rng.choice(WORDS)}.py"})
            call_id = f"call_{number}_{call}"
            session.reply({"role": "assistant", "content": None, "reasoning": _text(rng, rng.randint(30, 200)),
                           "tool_calls": [{"id": call_id, "type": "function",
                                           "function": {"name": tool, "arguments": json.dumps(args)}}]},
                          call, "tool_calls")
            output = json.dumps({"output": _text(rng, rng.randint(100, 3000)), "exit_code": 0, "error": None})
            session.add({"role": "tool", "tool_call_id": call_id, "content": output})
        session.reply({"role": "assistant", "content": "Done: " + _text(rng, rng.randint(40, 400))}, rounds + 1, "stop")
        status = "error" if rng.random() < 0.05 else "success"
        recorder.record_event("run_end", status=status, error=None, usage={})
        recorder.close("closed")
        counts["sessions"] += 1
        counts["messages"] += len(session.messages)
    return counts


# -- one export in a child process -----------------------------------------------------------------
def child(argv: list[str]) -> None:
    """`--child OUT_JSON hermes-export-args...`: run the export in this fresh process, write timings."""
    out_json, *export_args = argv
    import cli

    started = time.perf_counter()
    code = cli.main(["export", *export_args])
    seconds = time.perf_counter() - started
    import resource

    workers_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest reaped worker
    Path(out_json).write_text(json.dumps({"seconds": seconds, "code": code, "peak_kib": _peak_rss_kib(),
                                          "worker_peak_kib": workers_kib}), encoding="utf-8")
    sys.exit(code)


def _peak_rss_kib() -> int:
    """This process's own peak RSS. (getrusage/wait4 would report at least the RSS of the parent
    that forked it: Linux carries the high-water mark across fork and exec.)"""
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_export(logs: Path, fmt: str, out: Path, tok_dir: Path, tmp: Path) -> dict[str, Any]:
    timing = tmp / f"{fmt}.timing.json"
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(timing), str(logs), "--format", fmt,
            "--output", str(out), "--quiet"]
    if fmt in ("rollout", "atropos", "verl"):
        args += ["--tokenizer", str(tok_dir)]
    started = time.perf_counter()
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"export --format {fmt} failed: {proc.stderr.decode()}")
    inner = json.loads(timing.read_text(encoding="utf-8"))
    return {"seconds": inner["seconds"], "wall": wall, "peak_mib": inner["peak_kib"] / 1024,
            "worker_peak_mib": inner["worker_peak_kib"] / 1024}


def count_tokens(fmt: str, out: Path, hf: Any) -> tuple[int, int]:
    """(records, tokens) of an export file."""
    records = tokens = 0
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            records += 1
            if fmt == "rollout":
                tokens += len(record["tokens"])
            elif fmt == "verl":
                tokens += len(record["prompt_ids"]) + len(record["response_ids"])
            elif fmt == "atropos":
                tokens += sum(len(t) for t in record["tokens"])
            elif fmt == "sharegpt":
                values = [turn["value"] for turn in record["conversations"]]
                tokens += sum(len(ids) for ids in hf(values, add_special_tokens=False)["input_ids"])
    return records, tokens


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--keep", type=Path, help="write the corpus and outputs here instead of a temp dir")
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--repeat", type=int, default=3, help="runs per format; the median is reported (default 3)")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        if base.exists() and any(base.iterdir()):
            raise SystemExit(f"--keep {base}: give a new or empty directory (the corpus is generated into it)")
        base.mkdir(parents=True, exist_ok=True)
        os.environ["HERMES_HOME"] = str(base / "home")
        logs, tok_dir = base / "logs", base / "tokenizer"
        from exports.toy_tokenizer import build_toy_tokenizer

        hf = build_toy_tokenizer()
        hf.save_pretrained(tok_dir)
        started = time.perf_counter()
        corpus = generate(logs, args.sessions, hf)
        corpus["generate_seconds"] = round(time.perf_counter() - started, 1)
        corpus["log_mib"] = round(sum(f.stat().st_size for f in logs.glob("*.jsonl")) / 2**20, 1)
        print(f"corpus: {corpus}", flush=True)

        results: dict[str, Any] = {"date": str(date.today()),
                                   "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                                   "tokenizer": f"toy byte-level BPE, {len(hf)} tokens (exports/toy_tokenizer.py)",
                                   "corpus": corpus, "runs_per_format": max(1, args.repeat), "formats": {}}
        print(f"{'format':<10}{'records':>9}{'sessions/s':>12}{'tokens/s':>12}{'export s':>10}{'wall s':>8}{'peak MiB':>10}"
              f"{'worker MiB':>12}")
        for fmt in args.formats.split(","):
            out = base / f"export.{fmt}.jsonl"
            runs = sorted((run_export(logs, fmt, out, tok_dir, base) for _ in range(max(1, args.repeat))),
                          key=lambda r: r["seconds"])
            run = runs[len(runs) // 2]
            run["peak_mib"] = max(r["peak_mib"] for r in runs)
            run["worker_peak_mib"] = max(r["worker_peak_mib"] for r in runs)
            records, tokens = count_tokens(fmt, out, hf)
            row = {"records": records, "tokens": tokens, "export_seconds": round(run["seconds"], 2),
                   "wall_seconds": round(run["wall"], 2), "peak_mib": round(run["peak_mib"], 1),
                   # a few MiB: some short helper command ran, no worker was forked
                   "worker_peak_mib": round(run["worker_peak_mib"], 1) if run["worker_peak_mib"] > 16 else None,
                   "sessions_per_s": round(corpus["sessions"] / run["seconds"], 1),
                   "tokens_per_s": round(tokens / run["seconds"]) if tokens else None}
            results["formats"][fmt] = row
            print(f"{fmt:<10}{records:>9}{row['sessions_per_s']:>12}{row['tokens_per_s'] or '-':>12}"
                  f"{row['export_seconds']:>10}{row['wall_seconds']:>8}{row['peak_mib']:>10}"
                  f"{row['worker_peak_mib'] or '-':>12}", flush=True)
        target = ROOT / "bench" / "results" / f"exports-{results['date']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)  # bench/results/ is git-ignored: absent in a fresh clone
        target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results: {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
