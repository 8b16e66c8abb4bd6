"""Exports of a `hermes batch --n K --verify` run: one Atropos group per dataset row (its K samples,
even when two rows share a prompt), the verifier's reward as score / reward_score / reward."""

from __future__ import annotations

import json
from pathlib import Path

from scripted_server import ToolCall
from tests.conftest import run_hermes
from tests.exports.toolkit import KEY, read_jsonl_text, record_session, reply, tool_session_replies


def scored_by_seed(body: dict, index: int):
    """Leaves SCORE=seed/10 in the sample's shell; the verifier echoes it (rewards differ per sample)."""
    if any(m["role"] == "tool" for m in body["messages"]):
        return reply("Done.")
    return reply(calls=[ToolCall("terminal", {"command": f"export SCORE={body['seed'] / 10}"}, id=f"c{index}")])


def export(tmp_path: Path, tok_dir: Path, fmt: str) -> list[dict]:
    result = run_hermes("export", str(tmp_path / "data/g/sessions"), "--format", fmt, "--tokenizer", str(tok_dir),
                        "--output", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return read_jsonl_text(result.stdout)


def test_batch_groups_and_verifier_rewards_reach_the_exports(scripted_llm, vllm, tok_dir, log_dir, tmp_path: Path):
    llm = scripted_llm(scored_by_seed, **vllm.server_kwargs())
    dataset = tmp_path / "p.jsonl"
    rows = [{"prompt": "What is 6*7?"}, {"prompt": "List the files."}, {"prompt": "What is 6*7?"}]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_hermes("batch", str(dataset), "--run-name", "g", "--output-dir", str(tmp_path / "data"),
                        "--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model", "--n", "3",
                        "--seed", "1", "--verify", "echo $SCORE", "--distribution", "terminal_only", "--rollout",
                        "--tokenizer", str(tok_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = read_jsonl_text((tmp_path / "data/g/trajectories.jsonl").read_text(encoding="utf-8"))
    reward = {r["session_id"]: r["reward"] for r in results}
    group_of = {r["session_id"]: r["group_id"] for r in results}
    assert sorted(reward.values()) == [0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3]

    groups = export(tmp_path, tok_dir, "atropos")
    assert len(groups) == 3  # one per row: the repeated prompt is its own row, not merged into the first
    for group in groups:
        meta = [o["hermes"] for o in group["overrides"]]
        assert group["group_overrides"] == {"group_size": 3} and len({m["group_id"] for m in meta}) == 1
        assert sorted(m["group_sample"] for m in meta) == [0, 1, 2]
        assert group["scores"] == [reward[m["session_id"]] for m in meta]
        assert sorted(group["scores"]) == [0.1, 0.2, 0.3]
        assert all(group_of[m["session_id"]] == m["group_id"] for m in meta)

    verl = export(tmp_path, tok_dir, "verl")
    assert sorted(r["reward_score"] for r in verl) == sorted(reward.values())
    assert all(r["reward_score"] == reward[r["extra_fields"]["session_id"]] for r in verl)
    # the run's own rollouts.jsonl (--rollout --tokenizer) carries them too
    rollouts = read_jsonl_text((tmp_path / "data/g/rollouts.jsonl").read_text(encoding="utf-8"))
    assert len(rollouts) == 9
    assert all(r["reward"] == reward[r["session_id"]] and r["group_id"] == group_of[r["session_id"]] for r in rollouts)

    # a plain session's file (no batch keys, no reward, no server logprobs) loads with the batch
    # run's, in either order, with the explicit features
    import datasets

    from exports.features import features_for

    plain_log = record_session(scripted_llm(tool_session_replies()), "6*7?", log_dir)
    datasets.disable_progress_bars()
    for fmt, batch_rows in (("rollout", rollouts), ("atropos", groups), ("verl", verl)):
        result = run_hermes("export", str(plain_log), "--format", fmt, "--tokenizer", str(tok_dir), "--output", "-",
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        plain_rows = read_jsonl_text(result.stdout)
        files = [tmp_path / f"plain.{fmt}.jsonl", tmp_path / f"batch.{fmt}.jsonl"]
        for path, rows in zip(files, (plain_rows, batch_rows), strict=True):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        for index, order in enumerate((files, files[::-1])):
            ds = datasets.load_dataset("json", data_files=[str(f) for f in order], split="train",
                                       cache_dir=str(tmp_path / f"cache.{fmt}{index}"), features=features_for(fmt))
            rows = plain_rows + batch_rows if index == 0 else batch_rows + plain_rows
            assert len(ds) == len(rows)
            meta = {"rollout": lambda r: r, "verl": lambda r: r["extra_fields"],
                    "atropos": lambda r: r["overrides"][0]["hermes"]}[fmt]
            assert [meta(r).get("group_id") for r in ds] == [meta(r).get("group_id") for r in rows]
