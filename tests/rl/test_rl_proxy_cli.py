"""`hermes rl proxy`: the token proxy as its own process; hermes (a plain OpenAI client here) runs a
tool-using session through `/r/<id>/v1`, and on SIGTERM the proxy writes that rollout's exact
tokens: one sequence whose trained ids are the ids the SGLang stand-in sampled, in order."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from standin import StandIn, tool_then_answer

from tests.conftest import HERMES, run_hermes


def start_proxy(standin: StandIn, tokenizer_dir: Path, out: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    """`hermes rl proxy` in its own process; (the process, its root URL) once it listens."""
    proxy = subprocess.Popen([sys.executable, str(HERMES), "rl", "proxy", "--backend", "sglang", standin.url,
                              "--tokenizer", str(tokenizer_dir), "--port", "0", "--output", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    banner = proxy.stdout.readline()  # printed once it listens
    if not banner.startswith("hermes rl proxy: http://127.0.0.1:"):
        proxy.kill()
        pytest.fail(banner + proxy.communicate()[1])
    return proxy, banner.split()[3].removesuffix("/r/<rollout-id>/v1")


@pytest.mark.timeout(300)
def test_a_session_through_the_standalone_proxy_is_written_on_sigterm(chat_tokenizer, tokenizer_dir, tmp_path):
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    out = tmp_path / "rollouts.jsonl"
    proxy, root = start_proxy(standin, tokenizer_dir, out, tmp_path)
    try:
        base = f"{root}/r/task-1/v1"
        result = run_hermes("-p", "What is 6*7? Use the terminal.", "--base-url", base, "--api-key", "x",
                            "--model", "policy", "--toolsets", "terminal", cwd=tmp_path, timeout=180)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "The answer is 42."
    finally:
        proxy.send_signal(signal.SIGTERM)
        _, err = proxy.communicate(timeout=60)
        standin.close()
    assert proxy.returncode == 0, err
    assert err.strip().endswith(f"1 rollout(s) written to {out}")
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["rollout_id"] == "task-1" and len(record["calls"]) == 2 and record["finished"] is False
    (seq,) = record["sequences"]
    trained = [t for t, m in zip(seq["tokens"], seq["mask"], strict=True) if m]
    assert trained == [i for r in standin.requests for i in r["output_ids"]]  # non-canonical ids, untouched
    assert len(seq["tokens"]) == len(seq["logprobs"]) == len(seq["mask"])


TERMINAL = [{"type": "function", "function": {"name": "terminal", "description": "Run a shell command.",
                                              "parameters": {"type": "object", "properties": {
                                                  "command": {"type": "string"}}, "required": ["command"]}}}]


@pytest.mark.timeout(300)
def test_finished_rollouts_come_out_while_the_proxy_runs(chat_tokenizer, tokenizer_dir, tmp_path):
    """The openai SDK runs two rollouts through the proxy; a trainer reads one while it runs, finishes
    it (its record comes back and its JSONL line is on disk at once), pulls it; the proxy refuses
    more calls on it, and on SIGTERM writes only the one still open. (Before: no /rollouts routes,
    nothing on disk until the proxy stopped.)"""
    import httpx
    import openai

    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    out = tmp_path / "rollouts.jsonl"
    proxy, root = start_proxy(standin, tokenizer_dir, out, tmp_path)
    try:
        client = openai.OpenAI(base_url=f"{root}/r/t1/v1", api_key="x", max_retries=0)
        user = {"role": "user", "content": "Write alpha"}
        first = client.chat.completions.create(model="policy", messages=[user], tools=TERMINAL).choices[0].message
        (call,) = first.tool_calls
        running = httpx.get(f"{root}/rollouts/t1").json()
        assert running["finished"] is False and len(running["calls"]) == 1
        history = [user, first.model_dump(exclude_none=True),
                   {"role": "tool", "tool_call_id": call.id, "content": '{"output": "alpha", "exit_code": 0}'}]
        answer = client.chat.completions.create(model="policy", messages=history, tools=TERMINAL)
        assert answer.choices[0].message.content == "The answer is alpha."
        other = openai.OpenAI(base_url=f"{root}/r/t2/v1", api_key="x", max_retries=0)
        other.chat.completions.create(model="policy", messages=[{"role": "user", "content": "Write bravo"}])
        assert out.read_text(encoding="utf-8") == ""  # nothing finished yet

        finished = httpx.post(f"{root}/rollouts/t1/finish")
        assert finished.status_code == 200
        record = finished.json()
        assert record["rollout_id"] == "t1" and record["finished"] is True and len(record["calls"]) == 2
        (seq,) = record["sequences"]
        assert [t for t, m in zip(seq["tokens"], seq["mask"], strict=True) if m] == \
            standin.requests[0]["output_ids"] + standin.requests[1]["output_ids"]
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [record]  # on disk now
        assert httpx.post(f"{root}/rollouts/t1/finish").json() == record  # finishing twice: the same record
        with pytest.raises(openai.ConflictError, match="rollout 't1' is finished; start a new rollout id"):
            client.chat.completions.create(model="policy", messages=[user])
        assert httpx.get(f"{root}/rollouts").json() == {"open": ["t2"], "finished": ["t1"]}
        assert httpx.delete(f"{root}/rollouts/t1").json() == record  # pulled: no longer held
        gone = httpx.get(f"{root}/rollouts/t1")
        assert gone.status_code == 404 and "no longer held" in gone.json()["error"]["message"]
        assert httpx.get(f"{root}/rollouts/nope").status_code == 404
    finally:
        proxy.send_signal(signal.SIGTERM)
        _, err = proxy.communicate(timeout=60)
        standin.close()
    assert proxy.returncode == 0, err
    assert err.strip().endswith(f"2 rollout(s) written to {out}")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["rollout_id"], r["finished"], len(r["calls"])) for r in lines] == [("t1", True, 2), ("t2", False, 1)]


def test_usage_and_a_busy_port(tokenizer_dir, tmp_path):
    bare = run_hermes("rl", "proxy", timeout=60)
    assert bare.returncode == 2 and "hermes rl proxy: error: the following arguments are required" in bare.stderr
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_hermes("rl", "proxy", "--backend", "sglang", "http://127.0.0.1:9", "--tokenizer",
                            str(tokenizer_dir), "--port", str(port), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"hermes rl: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    keep = run_hermes("rl", "proxy", "--backend", "sglang", "http://127.0.0.1:9", "--tokenizer", str(tokenizer_dir),
                      "--keep", "-1", timeout=120)
    assert keep.returncode == 2 and keep.stderr.strip() == "hermes rl: error: --keep -1: must be 0 or more"
    unwritable = run_hermes("rl", "proxy", "--backend", "sglang", "http://127.0.0.1:9", "--tokenizer",
                            str(tokenizer_dir), "--port", "0", "--output", str(tmp_path / "no" / "dir.jsonl"), timeout=120)
    assert unwritable.returncode == 2, unwritable.stderr
    assert unwritable.stderr.strip() == (f"hermes rl: error: cannot write --output {tmp_path / 'no' / 'dir.jsonl'}: "
                                         "No such file or directory")
    missing = run_hermes("rl", "proxy", "--backend", "vllm", "http://127.0.0.1:9", "--tokenizer",
                         str(tmp_path / "nope"), timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr

