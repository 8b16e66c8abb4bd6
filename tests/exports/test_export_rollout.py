"""Token-level rollouts with a real BPE tokenizer trained in the test (formats.md §5, §8).

The scripted server plays vLLM: prompt ids are the chat template rendered and encoded, completion
ids are the sampled text encoded, one logprob per completion token.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest

from scripted_server import ToolCall
from tests.conftest import ROOT, run_hermes
from tests.exports.toolkit import (
    END,
    HERMES_TEMPLATE,
    THINK_LAST_ONLY_TEMPLATE,
    VllmHooks,
    export,
    logprob,
    masked_in,
    model_text,
    read_jsonl_text,
    record_session,
    reply,
    small_session,
    tool_session_replies,
    write_log,
)

TOOL_TURN_TEXTS = [model_text(reasoning="I should run it.", calls=[ToolCall("terminal", {"command": "echo 42"})]),
                   model_text("The answer is 42.")]


def check_record(record: dict[str, Any], tok) -> None:
    """Invariants of every rollout record."""
    n = len(record["tokens"])
    assert len(record["loss_mask"]) == n and set(record["loss_mask"]) <= {0, 1}
    assert len(record["logprobs"]) == n  # always floats: 1.0 (impossible) where masked or unknown
    for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True):
        assert isinstance(lp, float) and (lp == 1.0 if not m else lp <= 0 or lp == 1.0)
    spans = record["turn_spans"]
    assert spans[0]["start"] == 0 and spans[-1]["end"] == n
    assert all(a["end"] == b["start"] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[0]["role"] == "prompt" and spans[0]["end"] == record["prompt_len"]
    for span in spans:
        mask = record["loss_mask"][span["start"]:span["end"]]
        if span["role"] != "assistant":
            assert not any(mask), f"loss on a {span['role']} span"
        else:
            assert all(mask), "an assistant span with untrained tokens"
    text = tok.decode(record["tokens"])
    for span in spans:
        if span["role"] in ("tool", "prompt"):
            piece = tok.decode(record["tokens"][span["start"]:span["end"]])
            assert piece in text
    assert record["tokenizer"] and len(record["tokenizer_sha256"]) == 64
    assert record["chat_template_sha256"] == hashlib.sha256(HERMES_TEMPLATE.encode()).hexdigest() or \
        record["chat_template_sha256"] == hashlib.sha256(THINK_LAST_ONLY_TEMPLATE.encode()).hexdigest()


# -- server ids ------------------------------------------------------------------------------------
def test_server_token_ids_round_trip_exactly(scripted_llm, log_dir, vllm, chat_tok, hf_tok, tmp_path):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    check_record(record, hf_tok)
    first, second = vllm.calls
    # one merged sample: the last prompt extends the first prompt + completion, so it is the whole story
    assert second["prompt"][: len(first["prompt"]) + len(first["completion"])] == first["prompt"] + first["completion"]
    assert record["tokens"] == second["prompt"] + second["completion"]
    assert record["prompt_len"] == len(first["prompt"])
    assert masked_in(record) == [first["completion"], second["completion"]]
    assert [hf_tok.decode(run) for run in masked_in(record)] == TOOL_TURN_TEXTS
    trained_logprobs = [lp for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True) if m]
    assert trained_logprobs == [logprob(k) for k in range(len(first["completion"]))] + \
        [logprob(k) for k in range(len(second["completion"]))]
    assert record["token_source"] == "server" and record["finish_reason"] == "stop" and not record["truncated"]
    assert record["session_id"] == log.stem.removeprefix("session_") and record["reward"] is None
    assert [s["role"] for s in record["turn_spans"]] == ["prompt", "assistant", "tool", "assistant"]
    tool = record["turn_spans"][2]
    assert "<tool_response>" in hf_tok.decode(record["tokens"][tool["start"]:tool["end"]])
    assert record["calls"] == [1, 2] and record["calls_left_out"] == "[]"


class StopStringHooks(VllmHooks):
    """A server that leaves the end-of-turn token out of the completion ids (a stop string matched)."""

    def token_ids(self, body, text):
        return super().token_ids(body, text.removesuffix(END))

    def logprob_tokens(self, body, text):
        return super().logprob_tokens(body, text.removesuffix(END))


def test_end_token_the_next_prompt_carries_is_trained(scripted_llm, log_dir, hf_tok, chat_tok, tmp_path):
    hooks = StopStringHooks(hf_tok, HERMES_TEMPLATE)
    log = record_session(scripted_llm(tool_session_replies(), **hooks.server_kwargs()), "6*7?", log_dir,
                         token_capture=True)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    check_record(record, hf_tok)
    first, second = hooks.calls
    end_id = hf_tok.convert_tokens_to_ids(END)
    assert masked_in(record) == [first["completion"] + [end_id], second["completion"]]
    at = len(first["prompt"]) + len(first["completion"])
    assert record["tokens"][at] == end_id and record["loss_mask"][at] == 1
    assert record["logprobs"][at] == 1.0  # the server gave no logprob for it; none is invented
    assert record["tokens"][-1] != end_id  # the last turn's end was never seen: not added


def test_rewards_file_sets_the_reward(scripted_llm, log_dir, vllm, tok_dir, tmp_path):
    log = record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "6*7?", log_dir,
                         token_capture=True)
    session_id = log.stem.removeprefix("session_")
    rewards = tmp_path / "rewards.jsonl"
    rewards.write_text(json.dumps({"session_id": session_id, "reward": 0.75}) + "\n", encoding="utf-8")
    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir),
                        "--rewards", str(rewards))
    assert result.returncode == 0, result.stderr
    assert [r["reward"] for r in read_jsonl_text(result.stdout)] == [0.75]
    assert "(token_source: server 1)" in result.stderr


def test_rewards_file_forms(tmp_path):
    from agent.errors import ConfigError
    from exports.pipeline import load_rewards

    path = tmp_path / "rewards"
    # a one-line JSONL file whose id float() would accept ("2026_…" is a valid Python number)
    path.write_text('{"session_id": "20261121_203900_123456", "reward": 1}\n', encoding="utf-8")
    assert load_rewards(path) == {"20261121_203900_123456": 1.0}
    path.write_text('{"20261121_203900_123456": 0.5, "20261121_203901_abcdef": -1}', encoding="utf-8")
    assert load_rewards(path) == {"20261121_203900_123456": 0.5, "20261121_203901_abcdef": -1.0}
    path.write_text('{"session_id": "x", "reward": "high"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rewards:1: expected"):
        load_rewards(path)


# -- re-rendered sessions --------------------------------------------------------------------------
def test_rerendered_session_masks_exactly_the_assistant_turns(scripted_llm, log_dir, chat_tok, hf_tok, tmp_path):
    llm = scripted_llm(tool_session_replies())
    log = record_session(llm, "What is 6*7?", log_dir)  # no token capture
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    check_record(record, hf_tok)
    assert record["token_source"] == "retokenized" and set(record["logprobs"]) == {1.0}
    hooks = VllmHooks(hf_tok, HERMES_TEMPLATE)
    assert record["tokens"][: record["prompt_len"]] == hooks.prompt_ids(llm.chat_requests[0].body)
    assert [hf_tok.decode(run) for run in masked_in(record)] == TOOL_TURN_TEXTS
    # the sequence is the template's render of the conversation (up to the glue after the last turn)
    messages = [json.loads(line)["message"] for line in log.read_text(encoding="utf-8").splitlines()
                if '"type": "message"' in line]
    start = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    conversation = [{"role": "system", "content": start["system_prompt"]}, *messages]
    for m in conversation:
        for call in m.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        m["content"] = m.get("content") or ""
    full = hf_tok.apply_chat_template(conversation, tools=start["tools"], tokenize=True, return_dict=True)["input_ids"]
    assert full[: len(record["tokens"])] == record["tokens"]
    assert hf_tok.decode(full[len(record["tokens"]):]) == "\n"
    for span in record["turn_spans"]:
        piece = hf_tok.decode(record["tokens"][span["start"]:span["end"]])
        if span["role"] == "tool":
            assert piece.startswith("\n<|im_start|>tool\n<tool_response>\n") and not any(
                record["loss_mask"][span["start"]:span["end"]])


def test_local_render_keeps_server_completions_with_a_locally_rendered_prompt(scripted_llm, log_dir, vllm, chat_tok,
                                                                           hf_tok, tmp_path):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True, ephemeral_system_prompt="Be brief.")
    records = export(log, chat_tok, tmp_path / "r.jsonl")
    assert [r["token_source"] for r in records] == ["local_render"]
    (record,) = records
    check_record(record, hf_tok)
    assert masked_in(record) == [c["completion"] for c in vllm.calls]  # the model's own ids
    assert "Be brief." not in hf_tok.decode(record["tokens"])
    assert all(lp != 1.0 for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True) if m)


# -- truncation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("capture", [True, False], ids=["server", "retokenized"])
def test_truncated_turn_gets_no_invented_end_token(scripted_llm, log_dir, hf_tok, chat_tok, tmp_path, capture):
    hooks = VllmHooks(hf_tok, HERMES_TEMPLATE)
    replies = [reply("Roses are red, violets", finish_reason="length"), reply("Red.")]
    llm = scripted_llm(replies, **(hooks.server_kwargs() if capture else {}))
    log = record_session(llm, ["write a poem", "shorter"], log_dir, token_capture=capture)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    check_record(record, hf_tok)
    end_id = hf_tok.convert_tokens_to_ids(END)
    runs = masked_in(record)
    assert [hf_tok.decode(run) for run in runs] == ["Roses are red, violets", "Red." + END]
    assert runs[0][-1] != end_id
    # the end token the template adds after the cut turn is context the model read, not output
    cut_end = record["turn_spans"][1]["end"]
    assert record["tokens"][cut_end] == end_id and record["loss_mask"][cut_end] == 0
    assert record["truncated"] is True

    (last,) = export(log, chat_tok, tmp_path / "r2.jsonl", merge=False)[-1:]
    assert last["finish_reason"] == "stop"
    only_cut = export(log, chat_tok, tmp_path / "r3.jsonl", merge=False)[0]
    assert only_cut["finish_reason"] == "length" and only_cut["tokens"][-1] != end_id and only_cut["truncated"]


# -- prefix stability ------------------------------------------------------------------------------
@pytest.mark.parametrize("capture", [True, False], ids=["server", "retokenized"])
def test_non_prefix_stable_template_gives_one_sample_per_call(scripted_llm, log_dir, hf_tok, tok_dir, tmp_path,
                                                              think_last_template, capture):
    from exports.tokenizer import load_tokenizer

    hooks = VllmHooks(hf_tok, THINK_LAST_ONLY_TEMPLATE)
    llm = scripted_llm(tool_session_replies(), **(hooks.server_kwargs() if capture else {}))
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=capture)
    tokenizer = load_tokenizer(str(tok_dir), think_last_template)
    records = export(log, tokenizer, tmp_path / "r.jsonl")
    assert len(records) == 2 and [r["calls"] for r in records] == [[1], [2]]
    for number, record in enumerate(records):
        check_record(record, hf_tok)
        (run,) = masked_in(record)
        assert record["tokens"][record["prompt_len"]:] == run  # prompt masked, completion trained
        assert hf_tok.decode(run) == TOOL_TURN_TEXTS[number]
        if capture:
            assert record["tokens"] == hooks.calls[number]["prompt"] + hooks.calls[number]["completion"]
        else:  # re-rendered: the prompt is what a server would have rendered for that request
            assert record["tokens"][: record["prompt_len"]] == hooks.prompt_ids(llm.chat_requests[number].body)
    # the second prompt dropped the first turn's reasoning: merging would have trained on a lie
    assert "I should run it." not in hf_tok.decode(records[1]["tokens"][: records[1]["prompt_len"]])


def test_per_call_flag_never_merges(scripted_llm, log_dir, vllm, tok_dir):
    log = record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "6*7?", log_dir,
                         token_capture=True)
    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir), "--per-call")
    records = read_jsonl_text(result.stdout)
    assert [r["tokens"] for r in records] == [c["prompt"] + c["completion"] for c in vllm.calls]


# -- adapters --------------------------------------------------------------------------------------
def test_atropos_and_verl_adapters(scripted_llm, log_dir, vllm, chat_tok, tmp_path):
    log = record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "6*7?", log_dir,
                         token_capture=True)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    (group,) = export(log, chat_tok, tmp_path / "a.jsonl", fmt="atropos", rewards={record["session_id"]: 1.0})
    assert group["tokens"] == [record["tokens"]] and group["scores"] == [1.0]
    assert group["masks"] == [[t if m else -100 for t, m in zip(record["tokens"], record["loss_mask"], strict=True)]]
    assert group["inference_logprobs"] == [[lp if m else 1.0 for lp, m in
                                            zip(record["logprobs"], record["loss_mask"], strict=True)]]
    assert group["group_overrides"] == {"group_size": 1} and len(group["overrides"]) == 1
    for key in ("advantages", "ref_logprobs", "generation_params"):
        assert group[key] is None
    (conversation,) = group["messages"]  # Atropos' viewer and API need role + content on each
    assert [m["role"] for m in conversation] == ["system", "user", "assistant", "tool", "assistant"]
    assert all(isinstance(m["content"], str) for m in conversation) and "echo 42" in conversation[2]["content"]

    (row,) = export(log, chat_tok, tmp_path / "v.jsonl", fmt="verl")
    split = record["prompt_len"]
    assert row["prompt_ids"] == record["tokens"][:split] and row["response_ids"] == record["tokens"][split:]
    assert row["response_mask"] == record["loss_mask"][split:]
    assert row["response_logprobs"] == [lp if m else 0.0 for lp, m in
                                        zip(record["logprobs"][split:], record["loss_mask"][split:], strict=True)]
    assert 0 in row["response_mask"] and row["response_mask"][0] == 1  # tool tokens in the response, untrained
    assert row["extra_fields"]["token_source"] == "server"
    assert row["metrics"] == {"generate_sequences": 0.0, "tool_calls": 0.0, "compute_score": 0.0,
                              "num_preempted": -1}  # AgentLoopOutput requires it


def test_atropos_never_puts_a_filler_logprob_on_a_trained_token(tmp_path, chat_tok, hf_tok):
    """A trained token without a server logprob (a retokenized call) makes the group's
    inference_logprobs null rather than 1.0 (Atropos' 'masked') at a trained position."""
    from tests.exports.toolkit import small_session

    log = small_session(tmp_path / "session_20261121_100000_abc123.jsonl")
    (group,) = export(log, chat_tok, tmp_path / "a.jsonl", fmt="atropos")
    assert group["inference_logprobs"] is None and group["messages"][0][0]["role"] == "system"


def test_atropos_groups_attempts_at_the_same_prompt(scripted_llm, log_dir, vllm, tok_dir):
    logs = [record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "What is 6*7?", log_dir,
                           token_capture=True) for _ in range(3)]
    result = run_hermes("export", *map(str, logs), "--format", "atropos", "--tokenizer", str(tok_dir),
                        "--group-by", "prompt")
    assert result.returncode == 0, result.stderr
    (group,) = read_jsonl_text(result.stdout)
    assert len(group["tokens"]) == len(group["masks"]) == len(group["scores"]) == 3
    assert group["group_overrides"] == {"group_size": 3}


def test_exported_jsonl_loads_with_hf_datasets(scripted_llm, log_dir, vllm, chat_tok, tmp_path):
    import datasets

    logs = [record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "6*7?", log_dir,
                           token_capture=True),
            record_session(scripted_llm(tool_session_replies()), "again", log_dir),  # retokenized: no logprobs
            record_session(scripted_llm([reply("Hi.")]), "hello", log_dir, enabled_toolsets=[])]
    for fmt in ("rollout", "atropos", "verl", "sharegpt", "openai", "atif"):
        out = tmp_path / f"{fmt}.jsonl"
        from exports.pipeline import ExportOptions, run_export
        from exports.writer import JsonlWriter

        report = run_export(logs, ExportOptions(fmt=fmt, tokenizer=chat_tok), JsonlWriter(str(out)))
        assert not report.failures and report.exported == 3, (fmt, report)
        written = read_jsonl_text(out.read_text(encoding="utf-8"))
        dataset = datasets.load_dataset("json", data_files=str(out), split="train",
                                        cache_dir=str(tmp_path / "hf_cache"))
        assert dataset.num_rows == len(written), fmt
        rows = dataset.to_list()
        if fmt in ("rollout", "verl", "sharegpt"):
            # every field survives the Arrow round trip (Arrow's JSON reader may parse a float 1 ulp off)
            assert rounded(rows) == rounded(written), fmt
        elif fmt == "atropos":
            assert [r["tokens"] for r in rows] == [r["tokens"] for r in written]
            assert [r["inference_logprobs"] for r in rows] == [r["inference_logprobs"] for r in written]


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


# -- no tokenizer ----------------------------------------------------------------------------------
def test_rollout_without_a_tokenizer_says_so_in_one_line(tmp_path):
    log = small_session(tmp_path / "session_20261121_100000_abc123.jsonl")
    for fmt in ("rollout", "atropos", "verl"):
        result = run_hermes("export", str(log), "--format", fmt)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"hermes export: error: --format {fmt} needs a tokenizer") and "--tokenizer" in line

    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", "no-such-org/no-such-model")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("hermes export: error: cannot load tokenizer 'no-such-org/no-such-model'")

    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tmp_path / "nope"))
    assert result.returncode == 2 and result.stderr.strip() == f"hermes export: error: tokenizer directory {tmp_path / 'nope'} does not exist"


def test_rollout_without_transformers_installed_names_the_extra(tmp_path, tok_dir):
    log = small_session(tmp_path / "session_20261121_100000_abc123.jsonl")
    code = ("import sys; sys.modules['transformers'] = None; import cli; "
            f"sys.exit(cli.main(['export', {str(log)!r}, '--format', 'rollout', '--tokenizer', {str(tok_dir)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "need a tokenizer library" in line and "pip install 'hermes-agent[tokenizers]'" in line


def test_server_ids_from_another_tokenizer_are_refused(tmp_path, chat_tok):
    log = write_log(tmp_path / "session_20261121_150000_dddddd.jsonl", [
        {"type": "session_start", "session_id": "20261121_150000_dddddd", "model": "m", "tools": []},
        {"type": "message", "message": {"role": "user", "content": "hi"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop",
         "prompt_token_ids": [1, 2, 128000], "completion_token_ids": [128009]},
        {"type": "message", "message": {"role": "assistant", "content": "Hello."}},
    ])
    from exports.pipeline import ExportOptions, run_export
    from exports.writer import JsonlWriter

    report = run_export([log], ExportOptions(fmt="rollout", tokenizer=chat_tok), JsonlWriter(str(tmp_path / "o")))
    ((path, message),) = report.failures
    assert "token id 128009 is outside the vocabulary" in message
