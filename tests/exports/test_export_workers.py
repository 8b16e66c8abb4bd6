"""Token exports of many sessions run in forked workers (exports/workers.py): the same bytes, counts,
skips and failures, in the same order, as one process gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.exports.toolkit import write_log


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, hf_tok) -> list[Path]:
    """40 generated sessions (server ids, re-rendered, some ended in error) and one that fails."""
    from bench.bench_export import generate
    from exports.source import expand_paths

    logs = tmp_path_factory.mktemp("logs")
    generate(logs, 40, hf_tok, seed=7)
    paths = expand_paths([logs])
    bad = write_log(logs / "session_20261121_150000_badbad.jsonl", [
        {"type": "session_start", "session_id": "20261121_150000_badbad", "model": "m", "tools": []},
        {"type": "message", "message": {"role": "user", "content": "hi"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop",
         "prompt_token_ids": [1, 2], "completion_token_ids": [128009]},  # outside the vocabulary
        {"type": "message", "message": {"role": "assistant", "content": "Hello."}},
        {"type": "run_end", "status": "success"},
    ])
    return [*paths[:20], bad, *paths[20:]]


# Workers are forked only from a process without other threads; pytest's (servers of other tests)
# may still run, so each export runs in a fresh interpreter, as `hermes export` does.
SCRIPT = """
import json, sys
from pathlib import Path
from exports.filters import SessionFilter
from exports.pipeline import ExportOptions, run_export
from exports.tokenizer import load_tokenizer
from exports.workers import worker_count
from exports.writer import JsonlWriter
from agent.errors import ConfigError

args = json.loads(sys.argv[1])
tok = load_tokenizer(args["tokenizer"])
if args["no_template"]:
    tok.chat_template = None
assert worker_count(args["workers"]) == args["workers"]
failed = []
try:
    report = run_export([Path(p) for p in args["paths"]],
                        ExportOptions(fmt=args["fmt"], tokenizer=tok, workers=args["workers"],
                                      filter=SessionFilter(completed_only=True)),
                        JsonlWriter(args["out"]), on_failure=lambda path, message: failed.append([path.name, message]))
except ConfigError as exc:
    print(json.dumps({"config_error": str(exc)}))
    sys.exit(0)
print(json.dumps({"sessions": report.sessions, "exported": report.exported, "records": report.records,
                  "tokens": report.tokens, "skipped": report.skipped, "sources": report.sources,
                  "failures": [[p.name, m] for p, m in report.failures], "on_failure": failed}))
"""


def _export(paths: list[Path], tok_dir: Path, out: Path, workers: int, fmt: str = "rollout",
            no_template: bool = False) -> tuple[bytes | None, dict]:
    args = {"paths": [str(p) for p in paths], "tokenizer": str(tok_dir), "out": str(out), "workers": workers,
            "fmt": fmt, "no_template": no_template}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return (out.read_bytes() if out.exists() else None), json.loads(proc.stdout)


@pytest.mark.parametrize("fmt", ["rollout", "atropos", "verl"])
def test_workers_give_what_one_process_gives(corpus, tok_dir, tmp_path, fmt):
    one = _export(corpus, tok_dir, tmp_path / "one.jsonl", 1, fmt)
    two = _export(corpus, tok_dir, tmp_path / "two.jsonl", 2, fmt)
    assert one == two  # bytes; sessions, exported, records, tokens, skips, failures (in order), token sources
    report = two[1]
    assert report["sessions"] == 41 and report["skipped"]["not completed"] > 0 and report["tokens"] > 0
    assert [name for name, _ in report["on_failure"]] == ["session_20261121_150000_badbad.jsonl"]
    assert "outside the vocabulary" in report["failures"][0][1]
    assert set(report["sources"]) == {"server", "retokenized"}


def test_a_config_error_in_a_worker_stops_the_export(corpus, tok_dir, tmp_path):
    out, report = _export(corpus, tok_dir, tmp_path / "o.jsonl", 2, no_template=True)
    assert "has no chat template" in report["config_error"] and out is None


def test_worker_count(monkeypatch):
    from exports import workers

    monkeypatch.setattr(workers.threading, "active_count", lambda: 1)
    assert workers.worker_count(3) == 3 and 1 <= workers.worker_count(None) <= 4
    monkeypatch.setattr(workers.threading, "active_count", lambda: 2)
    assert workers.worker_count(None) == 1 and workers.worker_count(3) == 1  # forking threads is not safe


def test_a_worker_that_dies_fails_the_export_instead_of_hanging():
    code = """
import os
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from exports.workers import converted

class Counts:
    tokens, sources = 0, Counter()

def die(path):
    os._exit(3)  # as the OOM killer would

try:
    list(converted(die, [Path(str(i)) for i in range(8)], 2, Counts()))
except BrokenProcessPool:
    print("failed")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "failed", proc.stderr
