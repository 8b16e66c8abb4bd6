"""`hermes batch --n K` on the local backend: every sample of a row works in its own directory, so
the K samples (which run at the same time) cannot clobber each other's files. Real runs of the CLI
against the scripted server, real bash."""

from __future__ import annotations

import os

from scripted_server import Reply, ToolCall
from tests.batch.test_batch_runner import batch, records, write_dataset


def claim_a_file(body: dict, index: int) -> Reply:
    """Each sample claims `claim` for itself (only if nobody has), then answers; the verifier checks
    the file holds this sample's own mark. In a shared directory the second sample finds it taken."""
    if not any(m["role"] == "tool" for m in body["messages"]):
        mark = body["seed"]
        return Reply(tool_calls=[ToolCall("terminal", {
            "command": f"export ME={mark}; cat task.txt 2>/dev/null; pwd > where; "
                       f"if [ -e claim ]; then echo taken; else echo $ME > claim; fi"})])
    return Reply(content="claimed")


def test_the_samples_of_a_row_each_get_their_own_working_directory(scripted_llm, tmp_path):
    llm = scripted_llm(claim_a_file)
    task = tmp_path / "task"
    task.mkdir()
    (task / "task.txt").write_text("the task's file\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "no cwd"}, {"prompt": "with cwd", "cwd": str(task)}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "k", "--n", "3", "--seed", "1", "--num-workers", "6",
                   "--distribution", "terminal_only", "--verify", 'test "$(cat claim)" = "$ME"',
                   env={"TMPDIR": str(scratch)})
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "data/k/trajectories.jsonl")
    assert len(rows) == 6
    assert [r["reward"] for r in rows] == [1.0] * 6, [r["verifier"] for r in rows]
    outputs = [r["conversations"][3]["value"] for r in rows]
    assert not any("taken" in out for out in outputs)
    # a row's cwd is the template: each sample starts from a copy of its files; the row's own
    # directory is never written to
    with_cwd = [out for r, out in zip(rows, outputs, strict=True) if r["conversations"][1]["value"] == "with cwd"]
    assert len(with_cwd) == 3 and all("the task's file" in out for out in with_cwd)
    assert sorted(os.listdir(task)) == ["task.txt"]
    assert not (tmp_path / "claim").exists()  # the runner's directory is not used either
    # each sample's directory is removed when the sample is done (after its verifier)
    assert os.listdir(scratch) == []


def test_one_sample_per_row_keeps_running_in_the_rows_directory(scripted_llm, tmp_path):
    llm = scripted_llm(claim_a_file)
    task = tmp_path / "task"
    task.mkdir()
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "one", "cwd": str(task)}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "one", "--seed", "5", "--distribution", "terminal_only")
    assert result.returncode == 0, result.stderr
    assert (task / "claim").read_text() == "5\n"  # --n 1: unchanged, the row's directory itself
