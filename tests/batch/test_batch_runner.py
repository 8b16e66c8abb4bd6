"""`hermes batch`: real runs of the CLI against the scripted server, real bash, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, run_hermes

KEY = "sk-batch-secret-0123456789"


def write_dataset(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def complete_records(path: Path) -> list[dict]:
    """What a reader sees while the runner writes (or after a kill): the lines that are whole."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


def prompt_of(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def one_tool_then_answer(body: dict, index: int) -> Reply:
    """Each sample: one terminal call that echoes its prompt, then an answer naming it."""
    prompt = prompt_of(body)
    if not any(m["role"] == "tool" for m in body["messages"]):
        return Reply(tool_calls=[ToolCall("terminal", {"command": f"echo ran-{prompt.split()[-1]}"})])
    return Reply(content=f"done with {prompt}")


def batch(llm, tmp_path: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None):
    return run_hermes("batch", *args, "--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted",
                      "--output-dir", str(tmp_path / "data"), cwd=tmp_path, timeout=timeout, env=env)



def interrupt_mid_run(llm, tmp_path: Path, dataset: Path, *args: str) -> tuple[int, str]:
    """Starts `hermes batch DATASET --run-name c ARGS` in its own process group, sends the group a
    SIGINT (the terminal's Ctrl-C) once two samples are complete; returns (exit code, stderr)."""
    argv = [sys.executable, str(HERMES), "batch", str(dataset), "--run-name", "c", "--num-workers", "2", *args,
            "--base-url", llm.base_url, "--api-key", KEY, "--model", "m", "-q", "--output-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    out = tmp_path / "data/c/trajectories.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(complete_records(out)) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1]
    return proc.returncode, stderr

def test_run_writes_trajectories_statistics_and_sessions(scripted_llm, tmp_path):
    llm = scripted_llm(one_tool_then_answer)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}", "topic": "math"} for i in range(6)])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "r1", "--num-workers", "3",
                   "--distribution", "terminal_file", "--ephemeral-system-prompt", "EPHEMERAL-GUIDANCE")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "data" / "r1"
    rows = records(run / "trajectories.jsonl")
    assert sorted(r["prompt_index"] for r in rows) == list(range(6))
    for row in rows:
        assert row["completed"] is True and row["partial"] is False and row["api_calls"] == 2
        assert row["toolsets_used"] == ["terminal", "file"] and row["metadata"]["topic"] == "math"
        assert row["tool_stats"]["terminal"] == {"count": 1, "success": 1, "failure": 0}
        # zero-filled over every known tool, so every row has the same schema
        assert row["tool_stats"]["web_search"] == {"count": 0, "success": 0, "failure": 0}
        assert set(row["tool_stats"]) == set(rows[0]["tool_stats"]) == set(row["tool_error_counts"])
        turns = [t["from"] for t in row["conversations"]]
        assert turns == ["system", "human", "gpt", "tool", "gpt"]
        number = row["conversations"][1]["value"].split()[-1]
        assert f"ran-{number}" in row["conversations"][3]["value"]
    stats = json.loads((run / "statistics.json").read_text())
    assert stats["samples"] == {"completed": 6, "failed": 0, "ran_this_time": 6}
    assert stats["tools"]["terminal"] == {"count": 6, "success": 6, "failure": 0}
    assert stats["api_calls"] == 12 and stats["tokens"]["total"] > 0
    assert len(list((run / "sessions").glob("session_*.jsonl"))) == 6
    # the ephemeral prompt reached the model and nothing else
    assert all("EPHEMERAL-GUIDANCE" in json.dumps(r.body["messages"]) for r in llm.chat_requests)
    for path in run.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "EPHEMERAL-GUIDANCE" not in text and KEY not in text, path
    assert "6 completed" in result.stderr


def test_trajectories_load_with_hf_datasets(scripted_llm, tmp_path):
    datasets = pytest.importorskip("datasets")
    llm = scripted_llm(one_tool_then_answer)
    # different toolsets per row: the zero-filled stats keep one Arrow schema
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "a 1", "toolsets": ["terminal"]},
                                                   {"prompt": "b 2", "toolsets": "terminal,file"}])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "hf").returncode == 0
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "data/hf/trajectories.jsonl"), split="train")
    assert loaded.num_rows == 2 and "tool_stats" in loaded.column_names
    assert sorted(loaded["toolsets_used"]) == [["terminal"], ["terminal", "file"]]


def test_existing_run_needs_resume_and_resume_skips_finished_prompts(scripted_llm, tmp_path):
    llm = scripted_llm(one_tool_then_answer)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(3)])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "r").returncode == 0
    calls = len(llm.chat_requests)
    again = batch(llm, tmp_path, str(dataset), "--run-name", "r")
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in again.stderr
    # new prompts added at the top: matched by content, only the new one runs
    write_dataset(dataset, [{"prompt": "task new"}] + [{"prompt": f"task {i}"} for i in range(3)])
    resumed = batch(llm, tmp_path, str(dataset), "--run-name", "r", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(llm.chat_requests) == calls + 2
    prompts = [r["conversations"][1]["value"] for r in records(tmp_path / "data/r/trajectories.jsonl")]
    assert sorted(prompts) == ["task 0", "task 1", "task 2", "task new"]


def test_sigkill_then_resume_yields_every_prompt_exactly_once(scripted_llm, tmp_path):
    def slow(body: dict, index: int) -> Reply:
        reply = one_tool_then_answer(body, index)
        reply.delay = 0.15
        return reply

    llm = scripted_llm(slow)
    count = 24
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(count)]
                            + [{"prompt": "task 3"}])  # a duplicate prompt is its own sample
    args = [sys.executable, str(HERMES), "batch", str(dataset), "--run-name", "k", "--num-workers", "4", "-q",
            "--base-url", llm.base_url, "--api-key", KEY, "--model", "m", "--output-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    out = tmp_path / "data/k/trajectories.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(complete_records(out)) < 5:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(complete_records(out))
    assert 5 <= before < count + 1, "the kill should land mid-run"
    resumed = batch(llm, tmp_path, str(dataset), "--run-name", "k", "--resume", "--num-workers", "4")
    assert resumed.returncode == 0, resumed.stderr
    rows = records(out)
    assert len(rows) == count + 1
    assert len({r["sample_key"] for r in rows}) == count + 1
    assert sorted(r["prompt_index"] for r in rows) == list(range(count + 1))
    checkpoint = json.loads((tmp_path / "data/k/checkpoint.json").read_text())
    assert checkpoint["completed"] == count + 1 and checkpoint["failed"] == 0


def test_failed_samples_are_kept_and_retried(scripted_llm, tmp_path):
    broken = {"on": True}

    def flaky(body: dict, index: int) -> Reply:
        if "task 1" == prompt_of(body) and broken["on"]:
            return Reply(status=500, error_body={"error": {"message": "model crashed"}})
        return Reply(content="fine")

    llm = scripted_llm(flaky)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(3)])
    first = run_hermes("batch", str(dataset), "--run-name", "f", "--base-url", llm.base_url, "--api-key", KEY,
                       "--model", "m", "--output-dir", str(tmp_path / "data"), env={"HERMES_MAX_RETRIES": "0"},
                       cwd=tmp_path)
    assert first.returncode == 1
    failed = records(tmp_path / "data/f/failed.jsonl")
    assert len(failed) == 1 and failed[0]["reason"] == "error" and "500" in failed[0]["error"]
    stats = json.loads((tmp_path / "data/f/statistics.json").read_text())
    assert stats["samples"]["failed"] == 1 and stats["failures_by_reason"] == {"error": 1}
    # --resume alone leaves the failure alone; --retry-failed runs it again
    assert batch(llm, tmp_path, str(dataset), "--run-name", "f", "--resume").returncode == 1
    broken["on"] = False
    retried = batch(llm, tmp_path, str(dataset), "--run-name", "f", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert len(records(tmp_path / "data/f/trajectories.jsonl")) == 3
    stats = json.loads((tmp_path / "data/f/statistics.json").read_text())
    assert stats["samples"]["completed"] == 3 and stats["samples"]["failed"] == 0


def test_sample_timeout_stops_the_command_and_records_the_failure(scripted_llm, tmp_path):
    marker = tmp_path / "still-running"
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"sleep 30; touch {marker}"})])])
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "hang"}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "t", "--sample-timeout", "1", "--distribution",
                   "terminal_only")
    assert result.returncode == 1
    failed = records(tmp_path / "data/t/failed.jsonl")
    assert failed[0]["reason"] == "timeout" and "1 s" in failed[0]["error"]
    assert failed[0]["duration_seconds"] < 10  # stopped at 1 s, not after the 30 s command (start-up not counted)
    out = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True, text=True)
    assert out.stdout.strip() == "", "the timed-out command is still running"


def test_distributions_sample_per_prompt_and_are_recorded(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content="ok"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"p {i}"} for i in range(40)])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "d", "--distribution", "balanced",
                 "--num-workers", "8").returncode == 0
    rows = records(tmp_path / "data/d/trajectories.jsonl")
    chosen = {tuple(r["toolsets_used"]) for r in rows}
    assert len(chosen) > 5 and all(chosen)  # varied, never empty
    # what the model was offered matches what was recorded
    offered = {prompt_of(r.body): {t["function"]["name"] for t in r.body.get("tools", [])} for r in llm.chat_requests}
    for row in rows:
        tools = offered[row["conversations"][1]["value"]]
        assert ("terminal" in tools) == ("terminal" in row["toolsets_used"])
    listing = run_hermes("batch", "--list-distributions")
    assert listing.returncode == 0 and "balanced" in listing.stdout and "browser_use" in listing.stdout
    unknown = run_hermes("batch", str(dataset), "--run-name", "x", "--distribution", "balancd")
    assert unknown.returncode == 2 and "did you mean 'balanced'" in unknown.stderr


def test_distribution_from_config_and_bad_rows(scripted_llm, tmp_path, hermetic_env):
    (hermetic_env / "config.yaml").write_text("batch:\n  distributions:\n    mine: {terminal: 100}\n")
    llm = scripted_llm(lambda body, index: Reply(content="ok"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "only terminal"}])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "c", "--distribution", "mine").returncode == 0
    assert records(tmp_path / "data/c/trajectories.jsonl")[0]["toolsets_used"] == ["terminal"]
    (tmp_path / "bad.jsonl").write_text('{"prompt": "ok"}\n{"prompt": \n')
    bad = batch(llm, tmp_path, str(tmp_path / "bad.jsonl"), "--run-name", "b")
    assert bad.returncode == 2 and "bad.jsonl:2" in bad.stderr and "Traceback" not in bad.stderr
    write_dataset(tmp_path / "bad.jsonl", [{"prompt": "x", "toolsets": ["nope"]}])
    bad = batch(llm, tmp_path, str(tmp_path / "bad.jsonl"), "--run-name", "b")
    assert bad.returncode == 2 and "unknown toolset 'nope'" in bad.stderr
    seed_style = run_hermes("batch", "--dataset_file", str(dataset), "--run_name", "s", "--base_url", llm.base_url,
                            "--api_key", KEY, "--model", "m", "--output_dir", str(tmp_path / "data"), cwd=tmp_path)
    assert seed_style.returncode == 0, seed_style.stderr


def test_rows_run_in_their_own_cwd(scripted_llm, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    llm = scripted_llm(lambda body, index: Reply(content="ok") if any(m["role"] == "tool" for m in body["messages"])
                       else Reply(tool_calls=[ToolCall("terminal", {"command": "pwd"})]))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "where 1", "cwd": str(one)},
                                                   {"prompt": "where 2", "cwd": str(two)}])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "w", "--distribution", "terminal_only").returncode == 0
    outputs = {r["conversations"][1]["value"]: r["conversations"][3]["value"]
               for r in records(tmp_path / "data/w/trajectories.jsonl")}
    assert str(one) in outputs["where 1"] and str(two) in outputs["where 2"]
    write_dataset(dataset, [{"prompt": "nowhere", "cwd": str(tmp_path / "missing")}])
    bad = batch(llm, tmp_path, str(dataset), "--run-name", "w2")
    assert bad.returncode == 2 and "is not a directory" in bad.stderr


def test_a_crashing_sample_is_recorded_and_the_run_goes_on(scripted_llm, tmp_path, monkeypatch):
    import toolset_distributions
    from batch.dataset import load_dataset
    from batch.runner import BatchConfig, BatchRunner
    from run_agent import AIAgent

    real = AIAgent.conversation_steps  # what both batch drivers run

    def sometimes_broken(self, message, *args, **kwargs):
        if message == "task 1":
            raise RuntimeError("bug in a tool")
        return real(self, message, *args, **kwargs)

    monkeypatch.setattr(AIAgent, "conversation_steps", sometimes_broken)
    llm = scripted_llm(lambda body, index: Reply(content="ok"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(3)])
    config = BatchConfig(run_name="c", dataset=dataset, output_root=tmp_path / "data", model="m",
                         base_url=llm.base_url, api_key=KEY,
                         distribution=dict(toolset_distributions.DISTRIBUTIONS["terminal_only"]))
    stats = BatchRunner(config, load_dataset(dataset)).run()
    assert stats["samples"]["completed"] == 2 and stats["failures_by_reason"] == {"crash": 1}
    failed = records(tmp_path / "data/c/failed.jsonl")
    assert failed[0]["error"] == "RuntimeError: bug in a tool"


def test_batch_edits_files_by_default_unless_approvals_mode_is_set(scripted_llm, tmp_path, hermetic_env):
    """`hermes batch` runs in auto-edit unless approvals.mode is set: samples can write their files;
    with `approvals: {mode: ask}` in config nobody can say yes, so the write is denied."""
    ws = tmp_path / "ws"
    ws.mkdir()

    def write_then_answer(body: dict, index: int) -> Reply:
        if not any(m["role"] == "tool" for m in body["messages"]):
            return Reply(tool_calls=[ToolCall("write_file", {"path": str(ws / "out.txt"), "content": "sample\n"})])
        return Reply(content="written")

    llm = scripted_llm(write_then_answer)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "write it", "cwd": str(ws), "toolsets": ["file"]}])
    assert batch(llm, tmp_path, str(dataset), "--run-name", "auto").returncode == 0
    assert (ws / "out.txt").read_text() == "sample\n"
    tool_turn = records(tmp_path / "data/auto/trajectories.jsonl")[0]["conversations"][3]["value"]
    assert "needs approval" not in tool_turn

    (ws / "out.txt").unlink()
    (hermetic_env / "config.yaml").write_text("approvals: {mode: ask}\n")
    assert batch(llm, tmp_path, str(dataset), "--run-name", "ask").returncode == 0
    assert not (ws / "out.txt").exists()
    assert "needs approval" in records(tmp_path / "data/ask/trajectories.jsonl")[0]["conversations"][3]["value"]
