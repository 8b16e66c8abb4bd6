"""Which sessions are exported (completed only, model, date), and what never is: ephemeral system
prompts and secrets, in any format, as text or as token ids."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from scripted_server import ToolCall
from tests.conftest import CLIResult, run_hermes
from tests.exports.toolkit import read_jsonl_text, record_session, reply, tool_session_replies, write_log

FORMATS = ["sharegpt", "openai", "atif", "rollout", "atropos", "verl"]


def session(directory: Path, session_id: str, *, model: str = "nous/hermes-4", status: str | None = "success",
            start: str | None = None) -> Path:
    start = start or f"{session_id[:4]}-{session_id[4:6]}-{session_id[6:8]}T{session_id[9:11]}:{session_id[11:13]}:00"
    events = [
        {"type": "session_start", "ts": start, "session_id": session_id, "model": model, "tools": [],
         "system_prompt": "sys"},
        {"type": "message", "message": {"role": "user", "content": f"hello from {session_id}"}},
        {"type": "message", "message": {"role": "assistant", "content": "hi"}},
    ]
    if status is not None:
        events.append({"type": "run_end", "status": status})
    return write_log(directory / f"session_{session_id}.jsonl", events)


def exported_ids(args: list[str]) -> list[str]:
    result = run_hermes("export", *args, "--format", "sharegpt")
    assert result.returncode == 0, result.stderr
    return [r["conversations"][1]["value"].removeprefix("hello from ") for r in read_jsonl_text(result.stdout)]


def test_filters_completed_model_and_date(tmp_path):
    logs = tmp_path / "logs"
    session(logs, "20261101_090000_aaaaaa")
    session(logs, "20261102_090000_bbbbbb", status="error")
    session(logs, "20261103_090000_cccccc", status="interrupted")
    session(logs, "20261104_090000_dddddd", status=None)  # killed before the run ended
    session(logs, "20261105_090000_eeeeee", model="openai/gpt-5")
    session(logs, "20261121_235959_ffffff")
    write_log(logs / "session_20261122_000000_000000.jsonl",  # nothing to export
              [{"type": "session_start", "session_id": "20261122_000000_000000", "model": "m", "tools": []}])

    everything = exported_ids([str(logs)])
    assert everything == ["20261101_090000_aaaaaa", "20261102_090000_bbbbbb", "20261103_090000_cccccc",
                          "20261104_090000_dddddd", "20261105_090000_eeeeee", "20261121_235959_ffffff"]
    assert exported_ids([str(logs), "--completed-only"]) == ["20261101_090000_aaaaaa", "20261105_090000_eeeeee",
                                                             "20261121_235959_ffffff"]
    assert exported_ids([str(logs), "--model", "nous/*"]) == [i for i in everything if i != "20261105_090000_eeeeee"]
    assert exported_ids([str(logs), "--model", "openai/gpt-5", "--model", "x/*"]) == ["20261105_090000_eeeeee"]
    assert exported_ids([str(logs), "--since", "2026-11-03", "--until", "2026-11-05"]) == [
        "20261103_090000_cccccc", "20261104_090000_dddddd", "20261105_090000_eeeeee"]
    assert exported_ids([str(logs), "--since", "2026-11-21"]) == ["20261121_235959_ffffff"]  # --until DAY includes it
    assert exported_ids([str(logs), "--until", "2026-11-21"])[-1] == "20261121_235959_ffffff"
    assert exported_ids([str(logs), "--since", "2026-11-05T09:00:01"]) == ["20261121_235959_ffffff"]

    summary = run_hermes("export", str(logs), "--completed-only", "--model", "nous/*").stderr
    assert "2 of 7 sessions -> 2 sharegpt records" in summary
    assert "3 not completed" in summary and "1 empty" in summary and "1 other model" in summary


def test_filter_and_path_errors_are_one_line_exit_2(tmp_path):
    session(tmp_path, "20261101_090000_aaaaaa")
    for args, says in [
        (["--since", "last tuesday"], "not a date: 'last tuesday'"),
        ([str(tmp_path / "missing")], "missing: no such file or directory"),
        (["--format", "csv"], "invalid choice: 'csv'"),
        (["--until", "2026-13-01"], "not a date: '2026-13-01'"),
    ]:
        result = run_hermes("export", str(tmp_path), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_session_ids_and_default_directory(tmp_path, log_dir):
    session(log_dir, "20261101_090000_aaaaaa")
    session(log_dir, "20261102_090000_bbbbbb")
    assert exported_ids([]) == ["20261101_090000_aaaaaa", "20261102_090000_bbbbbb"]  # default: the log directory
    assert exported_ids(["20261102"]) == ["20261102_090000_bbbbbb"]  # an id prefix
    assert "matches 2 sessions" in run_hermes("export", "2026110").stderr


# -- never exported --------------------------------------------------------------------------------
def export_here(*args: str) -> CLIResult:
    """`hermes export ARGS` through cli.main in this process: the same command and output, without a
    Python start-up per format (the tests here export every format 6 times; the exports through the
    real ./hermes are the other tests of this file and of tests/exports)."""
    import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["export", *args])
    return CLIResult(code, out.getvalue(), err.getvalue())


def every_export(log: Path, tok_dir: Path) -> dict[str, str]:
    """Each format's output for `log`, with every token id list decoded to text and appended."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    outputs = {}
    for fmt in FORMATS:
        result = export_here(str(log), "--format", fmt, "--tokenizer", str(tok_dir))
        assert result.returncode == 0, (fmt, result.stderr)
        text = result.stdout
        for record in read_jsonl_text(result.stdout):
            for ids in _id_lists(record):
                text += "\n" + tok.decode(ids)
        outputs[fmt] = text
    return outputs


def _id_lists(value) -> list[list[int]]:
    """Every list of ints (token ids) anywhere in a record."""
    if isinstance(value, dict):
        return [ids for v in value.values() for ids in _id_lists(v)]
    if isinstance(value, list):
        if value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
            return [value]
        return [ids for v in value for ids in _id_lists(v)]
    return []


def log_token_text(log: Path, tok_dir: Path) -> str:
    """The log's text plus every token id list in it, decoded."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    text = log.read_text(encoding="utf-8")
    for event in read_jsonl_text(text):
        for key in ("prompt_token_ids", "completion_token_ids"):
            if event.get(key):
                text += "\n" + tok.decode(event[key])
        for entry in event.get("logprobs") or []:
            text += entry.get("token", "") + bytes(entry.get("bytes") or []).decode("utf-8", "replace")
    return text


EPHEMERAL = "EPHEMERAL-MARKER-7731 answer like a pirate"


def test_ephemeral_system_prompt_is_never_logged_or_exported(scripted_llm, log_dir, vllm, tok_dir):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True, ephemeral_system_prompt=EPHEMERAL)
    assert EPHEMERAL in vllm.calls[0]["body"]["messages"][0]["content"]  # the model did get it
    assert "EPHEMERAL-MARKER" in json.dumps(vllm.tok.decode(vllm.calls[0]["prompt"]))  # and so did its prompt ids
    assert "EPHEMERAL-MARKER" not in log_token_text(log, tok_dir)
    calls = [e for e in read_jsonl_text(log.read_text(encoding="utf-8")) if e["type"] == "llm_call"]
    assert all(c["token_ids_withheld"] == {"prompt_token_ids": "ephemeral system prompt"} for c in calls)
    assert all(c["completion_token_ids"] for c in calls)  # the completions are still the model's own
    for fmt, text in every_export(log, tok_dir).items():
        assert "EPHEMERAL-MARKER" not in text, fmt
    rollout = read_jsonl_text(run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir)).stdout)
    assert [r["token_source"] for r in rollout] == ["local_render"]


def test_ephemeral_prompt_ids_in_an_older_log_are_not_used(tmp_path, hf_tok, tok_dir):
    """A log that holds prompt ids of a request with an ephemeral prompt: the export renders its own."""
    messages = [{"role": "system", "content": f"sys\n\n{EPHEMERAL}"}, {"role": "user", "content": "hi"}]
    prompt = hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                        return_dict=True)["input_ids"]
    log = write_log(tmp_path / "session_20261121_140000_cccccc.jsonl", [
        {"type": "session_start", "session_id": "20261121_140000_cccccc", "model": "m", "tools": [],
         "system_prompt": "sys", "ephemeral_system_prompt": True},
        {"type": "message", "message": {"role": "user", "content": "hi"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop", "prompt_token_ids": prompt,
         "completion_token_ids": hf_tok.encode("Hello.<|im_end|>", add_special_tokens=False)},
        {"type": "message", "message": {"role": "assistant", "content": "Hello."}},
        {"type": "run_end", "status": "success"},
    ])
    for fmt, text in every_export(log, tok_dir).items():
        assert "EPHEMERAL-MARKER" not in text, fmt


SECRET_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("where", ["prompt", "tool_output", "completion"])
def test_secrets_never_reach_the_log_or_an_export_even_as_token_ids(scripted_llm, log_dir, vllm, tok_dir,
                                                                   tmp_path, where):
    prompt = "What is 6*7?"
    replies = tool_session_replies()
    if where == "prompt":
        prompt = f"My OpenRouter key is {SECRET_KEY}. What is 6*7?"
    elif where == "tool_output":
        secret_file = tmp_path / "key.txt"
        secret_file.write_text(SECRET_KEY + "\n", encoding="utf-8")
        replies = [reply(calls=[ToolCall("terminal", {"command": f"cat {secret_file}"}, id="call_1")]),
                   reply("It printed a key.")]
    else:
        replies = [reply(f"Here is the key you asked for: {SECRET_KEY}"), ]
    log = record_session(scripted_llm(replies, **vllm.server_kwargs()), prompt, log_dir, token_capture=True)
    served = "".join(vllm.tok.decode(c["prompt"] + c["completion"]) for c in vllm.calls)
    assert SECRET_KEY in served  # the server saw it, in text and in ids
    assert "sk-or-v1-0123" not in log_token_text(log, tok_dir)
    for fmt, text in every_export(log, tok_dir).items():
        assert "sk-or-v1-0123" not in text, fmt
        if fmt in ("sharegpt", "openai", "atif"):
            assert "[REDACTED]" in text, fmt


def test_a_secret_known_only_at_export_time_is_still_not_exported(scripted_llm, log_dir, vllm, tok_dir):
    password = "correct-horse-battery-staple-42"
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    log = record_session(llm, f"The database password is {password}. What is 6*7?", log_dir, token_capture=True)
    assert password in log.read_text(encoding="utf-8")  # not a secret anyone told the recorder about
    env = {"DATABASE_PASSWORD": password}
    for fmt in ("sharegpt", "openai", "atif"):
        result = run_hermes("export", str(log), "--format", fmt, env=env)
        assert result.returncode == 0 and password not in result.stdout and "[REDACTED]" in result.stdout, fmt
    result = run_hermes("export", str(log), "--format", "rollout", "--tokenizer", str(tok_dir), env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert f"skipped {log.name}: RolloutError: its token ids spell a secret" in result.stderr
    assert "0 of 1 sessions" in result.stderr and "1 failed" in result.stderr


def test_server_ids_covering_redacted_text_in_an_older_log_are_not_used(tmp_path, hf_tok, tok_dir):
    """A log from before ids were withheld: the text says [REDACTED], the ids still spell the key."""
    said = f"use {SECRET_KEY}"
    prompt = hf_tok.apply_chat_template([{"role": "system", "content": "sys"}, {"role": "user", "content": said}],
                                        add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    log = write_log(tmp_path / "session_20261121_170000_ffffff.jsonl", [
        {"type": "session_start", "session_id": "20261121_170000_ffffff", "model": "m", "tools": [],
         "system_prompt": "sys"},
        {"type": "message", "message": {"role": "user", "content": "use [REDACTED]"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop", "prompt_token_ids": prompt,
         "completion_token_ids": hf_tok.encode(f"Using {SECRET_KEY}.<|im_end|>", add_special_tokens=False)},
        {"type": "message", "message": {"role": "assistant", "content": "Using [REDACTED]."}},
        {"type": "run_end", "status": "success"},
    ])
    outputs = every_export(log, tok_dir)
    for fmt, text in outputs.items():
        assert "sk-or-v1-0123" not in text, fmt
    (record,) = read_jsonl_text(run_hermes("export", str(log), "--format", "rollout", "--tokenizer",
                                           str(tok_dir)).stdout)
    assert record["token_source"] == "retokenized"
