"""`hermes batch --rollout --tokenizer`: rollouts.jsonl from the samples' server-provided token ids."""

from __future__ import annotations

import json
from pathlib import Path

from scripted_server import ToolCall
from tests.conftest import run_hermes
from tests.exports.toolkit import KEY, read_jsonl_text, reply


def per_conversation(body: dict, index: int):
    if any(m["role"] == "tool" for m in body["messages"]):
        return reply("The answer is 42.")
    return reply(reasoning="I should run it.", calls=[ToolCall("terminal", {"command": "echo 42"}, id=f"c{index}")])


def test_batch_writes_rollouts_from_server_ids(scripted_llm, vllm, tok_dir, tmp_path: Path):
    llm = scripted_llm(per_conversation, **vllm.server_kwargs())
    dataset = tmp_path / "p.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"What is 6*7? ({i})"}) + "\n" for i in range(3)),
                       encoding="utf-8")
    result = run_hermes("batch", str(dataset), "--run-name", "rl", "--output-dir", str(tmp_path / "data"),
                        "--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model",
                        "--distribution", "terminal_only", "--num-workers", "1", "--rollout",
                        "--tokenizer", str(tok_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 rollout records" in result.stderr
    assert all(r.body["return_token_ids"] is True and r.body["logprobs"] is True for r in llm.chat_requests)
    records = read_jsonl_text((tmp_path / "data/rl/rollouts.jsonl").read_text(encoding="utf-8"))
    assert len(records) == 3 and {r["token_source"] for r in records} == {"server"}
    finals = [c for c in vllm.calls if "42." in c["text"] and "<tool_call>" not in c["text"]]
    assert sorted(r["tokens"] for r in records) == sorted(c["prompt"] + c["completion"] for c in finals)


def test_batch_rollout_without_tokenizer_says_how_to_export(scripted_llm, vllm, tmp_path: Path):
    llm = scripted_llm(per_conversation, **vllm.server_kwargs())
    dataset = tmp_path / "p.jsonl"
    dataset.write_text(json.dumps({"prompt": "What is 6*7?"}) + "\n", encoding="utf-8")
    result = run_hermes("batch", str(dataset), "--run-name", "rl", "--output-dir", str(tmp_path / "data"),
                        "--base-url", llm.base_url, "--api-key", KEY, "--model", "scripted-model", "--rollout",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--format rollout --tokenizer" in result.stderr
    assert not (tmp_path / "data/rl/rollouts.jsonl").exists()
