"""Token capture end to end: `--rollout` (or `agent.token_capture` in config) asks the endpoint for
logprobs and vLLM token ids, the event log keeps them with their provenance, and `hermes export
--format rollout` turns them into exact samples. One-shot (streamed and not) and the REPL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_hermes
from tests.exports.toolkit import KEY, logprob, read_jsonl_text, tool_session_replies


def oneshot(llm, *args: str) -> None:
    result = run_hermes("-p", "What is 6*7?", "--base-url", llm.base_url, "--api-key", KEY, "--model",
                        "scripted-model", "--toolsets", "terminal", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The answer is 42.\n"


def only_log(log_dir: Path) -> Path:
    (log,) = sorted(log_dir.glob("session_*.jsonl"))
    return log


def llm_calls(log: Path) -> list[dict]:
    return [e for e in read_jsonl_text(log.read_text(encoding="utf-8")) if e["type"] == "llm_call"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_oneshot_rollout_captures_ids_and_exports_them_exactly(scripted_llm, vllm, log_dir, tok_dir, stream):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    oneshot(llm, "--rollout", *([] if stream else ["--no-stream"]))
    for request in llm.chat_requests:
        assert request.body["logprobs"] is True and request.body["return_token_ids"] is True
        assert request.body.get("stream", False) is stream

    log = only_log(log_dir)
    calls = llm_calls(log)
    assert len(calls) == len(vllm.calls) == 2
    for call, served in zip(calls, vllm.calls, strict=True):
        assert call["prompt_token_ids"] == served["prompt"]
        assert call["completion_token_ids"] == served["completion"]
        assert [e["logprob"] for e in call["logprobs"]] == [logprob(k) for k in range(len(served["completion"]))]
        assert "".join(e["token"] for e in call["logprobs"]) == served["text"]
        assert call["token_source"] == "server" and "token_ids_withheld" not in call
    start = read_jsonl_text(log.read_text(encoding="utf-8"))[0]
    assert start["token_capture"] is True and start["base_url"] == llm.base_url  # where the ids came from

    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir))
    assert result.returncode == 0, result.stderr
    (record,) = read_jsonl_text(result.stdout)
    assert record["token_source"] == "server"
    assert record["tokens"] == vllm.calls[1]["prompt"] + vllm.calls[1]["completion"]
    assert sum(record["loss_mask"]) == sum(len(c["completion"]) for c in vllm.calls)


def test_without_rollout_nothing_is_asked_or_recorded(scripted_llm, vllm, log_dir):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    oneshot(llm)
    assert all("logprobs" not in r.body and "return_token_ids" not in r.body for r in llm.chat_requests)
    for call in llm_calls(only_log(log_dir)):
        assert call["prompt_token_ids"] is None and call["completion_token_ids"] is None
        assert call["logprobs"] is None and call["token_source"] is None


def test_config_key_turns_capture_on(scripted_llm, vllm, log_dir, hermetic_env):
    (hermetic_env / "config.yaml").write_text("agent:\n  token_capture: true\n", encoding="utf-8")
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    oneshot(llm)
    assert all(r.body.get("return_token_ids") is True for r in llm.chat_requests)
    assert all(c["completion_token_ids"] for c in llm_calls(only_log(log_dir)))


def test_repl_rollout_captures_ids(scripted_llm, vllm, log_dir, tok_dir):
    from tests.repl.test_repl_pty import Repl  # the real REPL in a pseudo-terminal

    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    repl = Repl(llm, "--rollout", "--toolsets", "terminal")
    try:
        repl.say("What is 6*7?")
        assert "The answer is 42." in repl.screen
        assert repl.quit() == 0
    finally:
        if repl.child.isalive():
            repl.child.terminate(force=True)
    deadline = time.monotonic() + 5
    while not list(log_dir.glob("session_*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = only_log(log_dir)
    assert json.loads(log.read_text(encoding="utf-8").splitlines()[0])["mode"] == "repl"
    calls = llm_calls(log)
    assert [c["completion_token_ids"] for c in calls] == [c["completion"] for c in vllm.calls]
    assert [c["prompt_token_ids"] for c in calls] == [c["prompt"] for c in vllm.calls]
    result = run_hermes("export", str(log), "--format", "verl", "--tokenizer", str(tok_dir))
    (row,) = read_jsonl_text(result.stdout)
    assert row["prompt_ids"] + row["response_ids"] == vllm.calls[1]["prompt"] + vllm.calls[1]["completion"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_llamacpp_ids_come_from_its_logprob_entries(scripted_llm, vllm, log_dir, chat_tok, tmp_path, stream):
    """llama.cpp sends logprobs only when `top_logprobs` is set, and no id fields: each entry's `id`
    is the sampled token. The export renders the prompt here and says so (local_render)."""
    from tests.exports.toolkit import export, record_session

    llm = scripted_llm(tool_session_replies(), flavour="llamacpp", **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True, stream=stream)
    assert all(r.body["top_logprobs"] == 0 for r in llm.chat_requests)
    calls = llm_calls(log)
    for call, served in zip(calls, vllm.calls, strict=True):
        assert call["completion_token_ids"] == served["completion"] and call["prompt_token_ids"] is None
        assert call["token_ids_from"] == "logprobs" and call["token_source"] == "server"
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    assert record["token_source"] == "local_render"
    assert record["tokens"] == vllm.calls[1]["prompt"] + vllm.calls[1]["completion"]
    trained = [lp for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True) if m]
    assert trained == [logprob(k) for k in range(len(vllm.calls[0]["completion"]))] + \
        [logprob(k) for k in range(len(vllm.calls[1]["completion"]))]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_llama_cpp_python_ids_come_from_its_token_pieces(scripted_llm, vllm, log_dir, chat_tok, tmp_path, stream):
    """llama-cpp-python sends no ids at all, only each sampled token's text and logprob: the export
    maps each piece to the tokenizer's one token for it, keeps the logprobs, renders the prompt."""
    from tests.exports.toolkit import export, record_session

    llm = scripted_llm(tool_session_replies(), flavour="llama-cpp-python", **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True, stream=stream)
    assert all(r.body["top_logprobs"] == 0 and r.body["logprobs"] is True for r in llm.chat_requests)
    calls = llm_calls(log)
    assert all(c["completion_token_ids"] is None and c["token_source"] is None and c["logprobs"] for c in calls)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    assert record["token_source"] == "local_render"
    sampled = [vllm.tok.encode(r.raw_text, add_special_tokens=False) for r in tool_session_replies()]
    assert record["tokens"] == vllm.prompt_ids(llm.chat_requests[-1].body) + sampled[1]
    trained = [lp for lp, m in zip(record["logprobs"], record["loss_mask"], strict=True) if m]
    assert trained == [logprob(k) for ids in sampled for k in range(len(ids))]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_sglang_ids_are_read_off_the_choice(scripted_llm, vllm, log_dir, chat_tok, tmp_path, stream):
    """SGLang returns prompt and completion ids on the choice, and only without streaming: a
    streamed call records no ids, only logprob entries, whose token pieces spell the completion ids
    (the prompt is rendered here: local_render)."""
    from tests.exports.toolkit import export, record_session

    llm = scripted_llm(tool_session_replies(), flavour="sglang", **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True, stream=stream)
    assert all(r.body["return_prompt_token_ids"] is True for r in llm.chat_requests)
    calls = llm_calls(log)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    last_prompt = vllm.prompt_ids(llm.chat_requests[-1].body)
    assert record["tokens"][: len(last_prompt)] == last_prompt
    if stream:
        assert all(c["completion_token_ids"] is None and c["token_source"] is None for c in calls)
        assert record["token_source"] == "local_render"
        sampled = vllm.tok.encode(tool_session_replies()[1].raw_text, add_special_tokens=False)
        assert record["tokens"] == last_prompt + sampled
    else:
        assert [c["prompt_token_ids"] for c in calls] == [c["prompt"] for c in vllm.calls]
        assert record["token_source"] == "server"
