"""Exports of sessions whose history was edited (undo/retry, context compaction): each call is
rendered from the request it answered, so calls made before a compaction become samples too; an
undone reply is left out and listed with the reason."""

from __future__ import annotations

import json

from tests.exports.toolkit import END, export, masked_in, write_log


def user(text: str) -> dict:
    return {"type": "message", "message": {"role": "user", "content": text}}


def assistant(text: str) -> dict:
    return {"type": "message", "message": {"role": "assistant", "content": text}}


def call(number: int, prompt_messages: int, **extra) -> dict:
    return {"type": "llm_call", "call": number, "prompt_messages": prompt_messages, "finish_reason": "stop", **extra}


START = {"type": "session_start", "session_id": "20261121_160000_eeeeee", "model": "m", "tools": [],
         "system_prompt": "You are Hermes."}


def test_after_undo_the_new_reply_gets_its_own_call(tmp_path, hf_tok, chat_tok):
    first = hf_tok.encode("First answer." + END, add_special_tokens=False)
    second = hf_tok.encode("Second answer." + END, add_special_tokens=False)
    log = write_log(tmp_path / "session_20261121_160000_eeeeee.jsonl", [
        START, user("a"), call(1, 1, completion_token_ids=first), assistant("First answer."),
        {"type": "history_edit", "action": "undo", "removed_count": 2},
        user("b"), call(2, 1, completion_token_ids=second), assistant("Second answer."),
        {"type": "run_end", "status": "success"},
    ])
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    assert record["calls"] == [2] and masked_in(record) == [second]
    assert json.loads(record["calls_left_out"]) == [{"call": 1, "reason": "the user undid or retried this reply"}]
    assert hf_tok.decode(record["tokens"]).endswith("<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n"
                                                    "Second answer." + END)

    from exports.atif import to_document
    from exports.source import load_trajectory

    steps = to_document(load_trajectory(log))["steps"]
    assert [s["message"] for s in steps] == ["You are Hermes.", "b", "Second answer."]
    assert steps[2]["metrics"]["completion_token_ids"] == second


def test_calls_before_a_compaction_are_rendered_from_their_own_requests(tmp_path, hf_tok, chat_tok):
    log = write_log(tmp_path / "session_20261121_160000_eeeeee.jsonl", [
        START,
        user("u0"), call(1, 1), assistant("a1"),
        user("u2"), call(2, 3), assistant("a3"),
        user("u4"), call(3, 5), assistant("a5"),
        {"type": "context_compressed", "start": 2, "replaced_count": 2,
         "message": {"role": "user", "content": "[Summary of earlier conversation: u2 then a3]"}},
        user("u6"), call(4, 6), assistant("a7"),
        {"type": "run_end", "status": "success"},
    ])
    before, after = export(log, chat_tok, tmp_path / "r.jsonl")
    assert before["calls"] == [1, 2, 3] and after["calls"] == [4]
    assert before["calls_left_out"] == after["calls_left_out"] == "[]"
    assert [hf_tok.decode(run) for run in masked_in(before)] == ["a1" + END, "a3" + END, "a5" + END]
    assert hf_tok.decode(before["tokens"]).endswith("<|im_start|>user\nu4<|im_end|>\n<|im_start|>assistant\na5" + END)
    assert [hf_tok.decode(run) for run in masked_in(after)] == ["a7" + END]
    text = hf_tok.decode(after["tokens"])
    assert "[Summary of earlier conversation: u2 then a3]" in text and "a5" in text  # context, not trained
    assert [s["role"] for s in after["turn_spans"]] == ["prompt", "assistant"]


def test_server_ids_survive_a_compaction(tmp_path, hf_tok, chat_tok):
    """Prompt ids the server returned are what the model saw, compaction or not: nothing is left out."""
    prompt = hf_tok.encode("<|im_start|>user\nu4<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)
    completion = hf_tok.encode("a5" + END, add_special_tokens=False)
    log = write_log(tmp_path / "session_20261121_160000_eeeeee.jsonl", [
        START,
        user("u0"), call(1, 1), assistant("a1"),
        user("u2"), call(2, 3), assistant("a3"),
        user("u4"), call(3, 5, prompt_token_ids=prompt, completion_token_ids=completion), assistant("a5"),
        {"type": "context_compressed", "start": 0, "replaced_count": 4,
         "message": {"role": "user", "content": "[Summary of earlier conversation: ...]"}},
    ])
    records = export(log, chat_tok, tmp_path / "r.jsonl")
    # calls 1 and 2 produced messages compacted away: rendered from their own requests
    assert [r["calls"] for r in records] == [[1, 2], [3]]
    assert records[1]["tokens"] == prompt + completion and records[1]["calls_left_out"] == "[]"
    assert records[0]["token_source"] == "retokenized" and records[1]["token_source"] == "server"
