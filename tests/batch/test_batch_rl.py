"""`hermes batch` for RL data: --n K groups, sampling flags, verifier rewards, --shard and merge.
Real runs of the CLI against the scripted server, real bash for the tools and the verifiers."""

from __future__ import annotations

import json
import os
import subprocess

from scripted_server import Reply, ToolCall
from tests.batch.test_batch_runner import batch, prompt_of, records, write_dataset
from tests.conftest import run_hermes


def score_from_seed(body: dict, index: int) -> Reply:
    """The "model" leaves a score in its shell (export SCORE=seed/10), then answers: a verifier that
    runs in the same terminal sees it, so each sample's reward shows which shell it ran in."""
    if not any(m["role"] == "tool" for m in body["messages"]):
        return Reply(tool_calls=[ToolCall("terminal", {"command": f"export SCORE={body.get('seed', 0) / 10}"})])
    return Reply(content=f"done: {prompt_of(body)}")


def by_prompt(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r["sample_index"]):
        out.setdefault(row["conversations"][1]["value"], []).append(row)
    return out


def test_n_samples_per_prompt_with_sampling_flags_seeds_and_verifier_rewards(scripted_llm, tmp_path):
    llm = scripted_llm(score_from_seed)
    dataset = write_dataset(tmp_path / "p.jsonl", [
        {"prompt": "alpha"},
        {"prompt": "beta", "temperature": 0.2, "seed": 40, "verify": "test -n \"$SCORE\""},
    ])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "rl", "--n", "3", "--temperature", "0.7",
                   "--top-p", "0.9", "--max-tokens", "64", "--seed", "10", "--distribution", "terminal_only",
                   "--verify", "echo checking; echo $SCORE")
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "data/rl/trajectories.jsonl")
    groups = by_prompt(rows)
    assert sorted(groups) == ["alpha", "beta"] and all(len(g) == 3 for g in groups.values())
    for group in groups.values():
        assert [r["sample_index"] for r in group] == [0, 1, 2]
        assert len({r["group_id"] for r in group}) == 1 and len({r["sample_key"] for r in group}) == 3
        assert len({r["session_id"] for r in group}) == 3
    assert groups["alpha"][0]["group_id"] != groups["beta"][0]["group_id"]
    # flags for every request; the row's own temperature and seed win; sample j gets seed + j
    assert [r["sampling"] for r in groups["alpha"]] == [
        {"temperature": 0.7, "top_p": 0.9, "seed": 10 + j, "max_tokens": 64} for j in range(3)]
    assert [r["sampling"]["seed"] for r in groups["beta"]] == [40, 41, 42]
    assert {r["sampling"]["temperature"] for r in groups["beta"]} == {0.2}
    for request in llm.chat_requests:
        body = request.body
        beta = prompt_of(body) == "beta"
        assert body["temperature"] == (0.2 if beta else 0.7) and body["top_p"] == 0.9 and body["max_tokens"] == 64
    sent = sorted(r.body["seed"] for r in llm.chat_requests)
    assert sent == sorted([10, 11, 12, 40, 41, 42] * 2)  # two calls per sample
    # rewards: --verify prints the sample's own SCORE (its shell); beta's own verifier: exit status
    assert [r["reward"] for r in groups["alpha"]] == [1.0, 1.1, 1.2]
    assert groups["alpha"][0]["verifier"]["output"].splitlines()[0] == "checking"
    assert [r["reward"] for r in groups["beta"]] == [1.0, 1.0, 1.0]
    assert all(r["verifier"]["exit_code"] == 0 and r["verifier"]["error"] is None for r in rows)
    stats = json.loads((tmp_path / "data/rl/statistics.json").read_text())
    assert stats["rewards"] == {"scored": 6, "mean": 1.05, "verifier_errors": 0}
    # the session logs carry the parameters of every call and the sample's group and reward; the
    # request rebuilt from a log (what exports and replay use) is byte for byte what the server got
    from recording.reader import load_session
    from recording.requests import canonical, request_body

    received = {canonical(r.body) for r in llm.chat_requests}
    for row in rows:
        views = load_session(tmp_path / f"data/rl/sessions/session_{row['session_id']}.jsonl").calls
        assert len(views) == 2 and all(canonical(request_body(v)) in received for v in views)
        log = tmp_path / f"data/rl/sessions/session_{row['session_id']}.jsonl"
        events = [json.loads(line) for line in log.read_text().splitlines()]
        calls = [e for e in events if e["type"] == "llm_call"]
        assert all(c["params"]["seed"] == row["sampling"]["seed"] and c["params"]["top_p"] == 0.9 for c in calls)
        note = next(e for e in events if e["type"] == "batch_sample")
        assert note["group"] == row["group_id"] and note["sample"] == row["sample_index"]
        assert note["reward"] == row["reward"]

    # resume with a larger K runs only the new samples
    calls = len(llm.chat_requests)
    more = batch(llm, tmp_path, str(dataset), "--run-name", "rl", "--n", "4", "--seed", "10", "--resume",
                 "--distribution", "terminal_only", "--verify", "echo $SCORE")
    assert more.returncode == 0, more.stderr
    assert len(llm.chat_requests) == calls + 4
    rows = records(tmp_path / "data/rl/trajectories.jsonl")
    assert len(rows) == 8 and len({r["sample_key"] for r in rows}) == 8
    assert sorted(r["reward"] for r in rows if r["sample_index"] == 3) == [1.0, 1.3]  # beta: its own verifier


def test_a_verifier_that_overruns_scores_zero_with_a_clear_error(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content="ok"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "slow check"}, {"prompt": "bad check", "verify": "exit 3"}])
    nap = f"20.{os.getpid()}"  # a duration of its own, to find the verifier's sleep among the machine's
    result = batch(llm, tmp_path, str(dataset), "--run-name", "v", "--verify", f"sleep {nap}; echo 1",
                   "--verify-timeout", "0.5", "--distribution", "terminal_only")
    assert result.returncode == 0, result.stderr
    rows = {r["conversations"][1]["value"]: r for r in records(tmp_path / "data/v/trajectories.jsonl")}
    slow = rows["slow check"]
    assert slow["reward"] == 0.0 and "verifier timed out after 0.5 s" in slow["verifier"]["error"]
    # stopped at its timeout, not awaited: the verifier's own time (start-up under load not counted),
    # and its sleep is gone
    assert slow["verifier"]["seconds"] < 10
    assert subprocess.run(["pgrep", "-f", f"sleep {nap}"], capture_output=True).returncode == 1
    assert rows["bad check"]["reward"] == 0.0 and rows["bad check"]["verifier"]["exit_code"] == 3
    stats = json.loads((tmp_path / "data/v/statistics.json").read_text())
    assert stats["rewards"] == {"scored": 2, "mean": 0.0, "verifier_errors": 1}


def test_the_verifier_runs_in_the_samples_working_directory(scripted_llm, tmp_path):
    work = tmp_path / "work"
    work.mkdir()

    def make_file(body: dict, index: int) -> Reply:
        if not any(m["role"] == "tool" for m in body["messages"]):
            return Reply(tool_calls=[ToolCall("terminal", {"command": "mkdir -p sub && cd sub && echo 42 > ../answer.txt"})])
        return Reply(content="wrote it")

    llm = scripted_llm(make_file)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "write", "cwd": str(work),
                                                    "verify": "test \"$(cat answer.txt)\" = 42"}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "w", "--distribution", "terminal_only")
    assert result.returncode == 0, result.stderr
    assert records(tmp_path / "data/w/trajectories.jsonl")[0]["reward"] == 1.0


def test_bad_rl_flags_and_rows_are_one_clear_line(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content="ok"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "x"}])
    for flags, message in ((["--n", "0"], "--n must be at least 1"), (["--shard", "0/4"], "from 1 to N"),
                           (["--shard", "two"], "expected I/N"), (["--top-p", "1.5"], "--top-p must be in")):
        bad = batch(llm, tmp_path, str(dataset), "--run-name", "b", *flags)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    write_dataset(dataset, [{"prompt": "x", "temperature": "hot"}])
    bad = batch(llm, tmp_path, str(dataset), "--run-name", "b")
    assert bad.returncode == 2 and "p.jsonl:1: `temperature` must be a number" in bad.stderr


def test_shards_split_the_dataset_and_merge_checks_every_sample(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content=f"answer to {prompt_of(body)}"))
    rows = [{"prompt": f"task {i}"} for i in range(9)] + [{"prompt": "task 3"}]  # a duplicate prompt too
    dataset = write_dataset(tmp_path / "p.jsonl", rows)
    for i in (1, 2, 3):
        result = batch(llm, tmp_path, str(dataset), "--run-name", f"s{i}", "--shard", f"{i}/3", "--n", "2")
        assert result.returncode == 0, result.stderr
    shard_rows = [records(tmp_path / f"data/s{i}/trajectories.jsonl") for i in (1, 2, 3)]
    assert all(shard_rows), "a shard got no rows"
    keys = [r["sample_key"] for part in shard_rows for r in part]
    assert len(keys) == len(set(keys)) == 20  # no overlap, no loss
    assert len(llm.chat_requests) == 20
    # a shard's samples stay together: both samples of a row are in the same shard
    for part in shard_rows:
        groups = {r["group_id"] for r in part}
        assert len(part) == 2 * len(groups)
    shards = [str(tmp_path / f"data/s{i}") for i in (1, 2, 3)]

    merged = run_hermes("batch", "merge", str(tmp_path / "all"), *shards, cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "20 samples from 3 shards" in merged.stderr
    out = records(tmp_path / "all/trajectories.jsonl")
    assert [(r["prompt_index"], r["sample_index"]) for r in out] == [(i, j) for i in range(10) for j in range(2)]
    assert len(list((tmp_path / "all/sessions").glob("session_*.jsonl"))) == 20
    stats = json.loads((tmp_path / "all/statistics.json").read_text())
    assert stats["samples"]["completed"] == 20

    # a missing shard: the rows it held are named, nothing is written, exit 1
    partial = run_hermes("batch", "merge", str(tmp_path / "part"), *shards[:2], cwd=tmp_path)
    assert partial.returncode == 1 and not (tmp_path / "part/trajectories.jsonl").exists()
    lost = sorted({(r["prompt_index"], r["sample_index"]) for r in shard_rows[2]})
    assert f"{len(lost)} samples missing (in no shard)" in partial.stderr
    row, sample = lost[0]
    assert f"row {row + 1} sample {sample}: 'task " in partial.stderr
    # a sample in two shards is named with both places
    extra = shard_rows[0][0]
    with open(tmp_path / "data/s2/trajectories.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(extra) + "\n")
    dup = run_hermes("batch", "merge", str(tmp_path / "dup"), *shards, cwd=tmp_path)
    assert dup.returncode == 1 and "1 samples duplicated (in more than one shard)" in dup.stderr
    assert f"row {extra['prompt_index'] + 1} sample {extra['sample_index']}" in dup.stderr
    assert "data/s1" in dup.stderr and "data/s2" in dup.stderr
    # the same shard twice, or a directory that is no run: exit 2
    twice = run_hermes("batch", "merge", str(tmp_path / "t"), shards[0], shards[0], cwd=tmp_path)
    assert twice.returncode == 2 and "shard 1/3 given more than once" in twice.stderr
    nothing = run_hermes("batch", "merge", str(tmp_path / "n"), str(tmp_path), cwd=tmp_path)
    assert nothing.returncode == 2 and "has no run.json" in nothing.stderr
    # resuming a shard under another split is refused
    other = batch(llm, tmp_path, str(dataset), "--run-name", "s1", "--shard", "1/4", "--resume")
    assert other.returncode == 2 and "resume it with the same --shard" in other.stderr


def test_a_plain_json_reply_to_a_streaming_request_is_the_answer_not_an_empty_success(scripted_llm, tmp_path):
    # Issue 19 defect H2 (fixed in agent/llm.py with the endpoint-fault work): an Atropos-style
    # proxy answers application/json to stream=true; the sample's answer must be that reply.
    llm = scripted_llm(lambda body, index: Reply(content="forty-two", non_streamed=True))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "q"}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "j", "--n", "2")
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "data/j/trajectories.jsonl")
    assert len(rows) == 2 and all(r["conversations"][-1]["value"].endswith("\nforty-two") for r in rows)
    assert all(r.body["stream"] is True for r in llm.chat_requests)


def test_processes_split_one_run_over_several_runner_processes(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content=f"answer to {prompt_of(body)}"))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(6)])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "mp", "--processes", "2", "--n", "2",
                   "--num-workers", "4", "--seed", "3", "--verify", "echo 0.5")
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "data/mp/trajectories.jsonl")
    assert sorted((r["prompt_index"], r["sample_index"]) for r in rows) == [(i, j) for i in range(6) for j in range(2)]
    assert {r["reward"] for r in rows} == {0.5} and len(llm.chat_requests) == 12
    stats = json.loads((tmp_path / "data/mp/statistics.json").read_text())
    assert stats["samples"] == {"completed": 12, "failed": 0, "ran_this_time": 12}
    checkpoint = json.loads((tmp_path / "data/mp/checkpoint.json").read_text())
    assert checkpoint["completed"] == 12
    assert "12 completed" in result.stderr
    again = batch(llm, tmp_path, str(dataset), "--run-name", "mp", "--processes", "2", "--resume")
    assert again.returncode == 0 and len(llm.chat_requests) == 12  # nothing left to run


def test_ctrl_c_stops_every_runner_process_and_resume_completes_the_run(scripted_llm, tmp_path):
    from tests.batch.test_batch_runner import complete_records, interrupt_mid_run

    llm = scripted_llm(lambda body, index: Reply(content="ok", delay=0.2))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(30)])
    returncode, stderr = interrupt_mid_run(llm, tmp_path, dataset, "--processes", "2")  # Ctrl-C to the group
    out = tmp_path / "data/c/trajectories.jsonl"
    assert returncode == 130 and stderr.count("interrupted") == 1, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert len(complete_records(out)) < 30, "the interrupt should land mid-run"
    resumed = batch(llm, tmp_path, str(dataset), "--run-name", "c", "--processes", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    rows = records(out)
    assert sorted(r["prompt_index"] for r in rows) == list(range(30))
