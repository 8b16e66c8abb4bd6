"""trajectory_compressor.py: fit ShareGPT trajectories under a token budget, the summary written by
the configured model (here the scripted server), never a silent truncation."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from scripted_server import Reply
from tests.conftest import ROOT

SUMMARY = "The agent listed the project, read three files and found the failing test in test_io.py."


def trajectory(rounds: int, tag: str = "") -> dict:
    turns = [{"from": "system", "value": "You are a function calling AI model. <tools>[]</tools>"},
             {"from": "human", "value": f"Find the failing test{tag}."}]
    for i in range(rounds):
        turns.append({"from": "gpt", "value": f"<think>\nstep {i}\n</think>\n<tool_call>\n"
                      f'{{"name": "terminal", "arguments": {{"command": "cat file_{i}.py"}}}}\n</tool_call>'})
        output = " ".join(f"line {j} of file {i}: print('hello world')" for j in range(12))
        turns.append({"from": "tool", "value": "<tool_response>\n" + json.dumps(
            {"tool_call_id": f"call_{i}", "name": "terminal", "content": {"output": output}}) + "\n</tool_response>"})
    turns.append({"from": "gpt", "value": "<think>\n</think>\nThe failing test is test_io.py::test_read."})
    return {"conversations": turns, "timestamp": "2026-11-21T10:00:00", "model": "m", "completed": True}


def count(hf_tok, turns: list[dict]) -> list[int]:
    return [len(hf_tok.encode(t["value"], add_special_tokens=False)) for t in turns]


def compress(llm, *args: str, input: Path, output: Path, tok_dir: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(ROOT / "trajectory_compressor.py"), f"--input={input}", f"--output={output}",
            "--tokenizer", str(tok_dir), "--base-url", llm.base_url, "--api-key", "sk-test-0123456789",
            "--model", "scripted-model", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_compresses_the_middle_into_one_llm_summary_under_budget(scripted_llm, tok_dir, hf_tok, tmp_path):
    record = trajectory(8)
    turns = record["conversations"]
    original = sum(count(hf_tok, turns))
    target = original // 2
    llm = scripted_llm([Reply(content=SUMMARY)])
    out = tmp_path / "out.jsonl"
    proc = compress(llm, f"--target-max-tokens={target}", "--protect-last-n-turns=3",
                    input=write_jsonl(tmp_path / "in.jsonl", [record]), output=out, tok_dir=tok_dir)
    assert proc.returncode == 0, proc.stderr
    (result,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    new = result["conversations"]
    metrics = result["compression"]

    # protected: the first system, human, gpt and tool turns, and the last 3
    assert new[0]["value"] == turns[0]["value"] + (
        "\n\nSome of your previous tool responses may be summarized to preserve context.")
    assert new[1:4] == turns[1:4]
    assert new[-3:] == turns[-3:]
    # exactly one summary turn, written by the model, in place of a contiguous middle
    summaries = [t for t in new if t["value"].startswith("[CONTEXT SUMMARY]:")]
    assert summaries == [{"from": "human", "value": f"[CONTEXT SUMMARY]: {SUMMARY}"}]
    start, end = metrics["compression_region"]["start_idx"], metrics["compression_region"]["end_idx"]
    assert new[1:] == turns[1:start] + summaries + turns[end:]
    assert metrics["compression_region"]["turns_count"] == end - start and end - start >= 2
    # a call and its response are never split: the region starts at a call and ends after a response
    assert turns[start]["from"] == "gpt" and turns[end - 1]["from"] == "tool" and turns[end]["from"] != "tool"
    # the model was asked to summarise exactly those turns
    (request,) = llm.chat_requests
    prompt = request.body["messages"][-1]["content"]
    assert all(t["value"] in prompt for t in turns[start:end])
    assert turns[start - 1]["value"] not in prompt and turns[end]["value"] not in prompt
    # the budget holds, and the metrics say so truthfully
    assert metrics["status"] == "compressed"
    assert metrics["original_tokens"] == original
    assert metrics["compressed_tokens"] == sum(count(hf_tok, new)) <= target
    assert metrics["compression_ratio"] == round(metrics["compressed_tokens"] / original, 4)
    assert metrics["turns_before"] == len(turns) and metrics["turns_after"] == len(new)
    totals = json.loads(Path(str(out) + ".metrics.json").read_text(encoding="utf-8"))
    assert totals["by_status"] == {"compressed": 1} and totals["failures"] == []
    assert {k: v for k, v in result.items() if k not in ("conversations", "compression")} == {
        k: v for k, v in record.items() if k != "conversations"}


def test_summary_failure_keeps_the_sample_whole_and_reports_it(scripted_llm, tok_dir, hf_tok, tmp_path):
    records = [trajectory(8, " A"), trajectory(1, " B")]  # B fits: no call for it
    target = sum(count(hf_tok, records[0]["conversations"])) // 2
    llm = scripted_llm([Reply(status=400, error_body={"error": {"message": "context too long", "type": "x"}})])
    out = tmp_path / "out.jsonl"
    proc = compress(llm, f"--target-max-tokens={target}", input=write_jsonl(tmp_path / "in.jsonl", records),
                    output=out, tok_dir=tok_dir)
    assert proc.returncode == 1
    assert "trajectory_compressor: sample 0 kept uncompressed: summary call failed" in proc.stderr
    assert "context too long" in proc.stderr
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["conversations"] for r in written] == [r["conversations"] for r in records]  # nothing cut
    assert written[0]["compression"]["status"] == "failed" and "context too long" in written[0]["compression"]["error"]
    assert written[0]["compression"]["compressed_tokens"] == written[0]["compression"]["original_tokens"] > target
    assert written[1]["compression"]["status"] == "within_budget"
    totals = json.loads(Path(str(out) + ".metrics.json").read_text(encoding="utf-8"))
    assert totals["by_status"] == {"failed": 1, "within_budget": 1}
    assert [f["index"] for f in totals["failures"]] == [0]


def test_empty_summary_counts_as_a_failure(scripted_llm, tok_dir, hf_tok, tmp_path):
    record = trajectory(8)
    target = sum(count(hf_tok, record["conversations"])) // 2
    proc = compress(scripted_llm([Reply(content="   ")]), f"--target-max-tokens={target}",
                    input=write_jsonl(tmp_path / "in.jsonl", [record]), output=tmp_path / "o.jsonl", tok_dir=tok_dir)
    assert proc.returncode == 1 and "empty summary" in proc.stderr
    (written,) = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written["conversations"] == record["conversations"]


def test_directory_input_and_sample_percent(scripted_llm, tok_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "a.jsonl", [trajectory(1, f" a{i}") for i in range(3)])
    (data / "b.jsonl.gz").write_bytes(gzip.compress(
        "".join(json.dumps(trajectory(1, f" b{i}")) + "\n" for i in range(3)).encode()))
    (data / "ignored.txt").write_text("not data", encoding="utf-8")
    llm = scripted_llm([])
    out = tmp_path / "all.jsonl"
    proc = compress(llm, "--target-max-tokens=100000", input=data, output=out, tok_dir=tok_dir)
    assert proc.returncode == 0, proc.stderr
    humans = [json.loads(line)["conversations"][1]["value"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert humans == [f"Find the failing test {x}{i}." for x in "ab" for i in range(3)]
    assert llm.calls == 0  # everything fit: the model was never asked

    half = tmp_path / "half.jsonl"
    proc = compress(llm, "--target-max-tokens=100000", "--sample-percent=50", "--seed=7", input=data, output=half,
                    tok_dir=tok_dir)
    assert proc.returncode == 0, proc.stderr
    sampled = [json.loads(line)["conversations"][1]["value"] for line in half.read_text(encoding="utf-8").splitlines()]
    assert len(sampled) == 3 and set(sampled) <= set(humans) and sampled == [h for h in humans if h in sampled]


def test_without_a_tokenizer_it_says_so(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "trajectory_compressor.py"), f"--input={tmp_path}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("trajectory_compressor: error: pass --tokenizer (a tokenizer directory or "
                                   "Hugging Face name) to count tokens")


def test_a_protected_tool_turn_keeps_its_call(scripted_llm, tok_dir, tmp_path):
    """The last 2 turns are [tool, gpt]: the call that tool turn answers must stay out of the summary."""
    record = trajectory(8)
    turns = record["conversations"]
    out = tmp_path / "out.jsonl"
    proc = compress(scripted_llm([Reply(content=SUMMARY)]), "--target-max-tokens=10", "--protect-last-n-turns=2",
                    input=write_jsonl(tmp_path / "in.jsonl", [record]), output=out, tok_dir=tok_dir)
    assert proc.returncode == 0, proc.stderr
    (result,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    region = result["compression"]["compression_region"]
    assert (region["start_idx"], region["end_idx"]) == (4, len(turns) - 3)
    assert [t["from"] for t in result["conversations"][-4:]] == ["human", "gpt", "tool", "gpt"]
    assert result["conversations"][-3:] == turns[-3:]
    assert result["compression"]["status"] == "compressed_still_over_budget"  # reported, not hidden
