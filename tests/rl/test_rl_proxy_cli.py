"""`hermes rl proxy`: the token proxy as its own process; hermes (a plain OpenAI client here) runs a
tool-using session through `/r/<id>/v1`, and on SIGTERM the proxy writes that rollout's exact
tokens: one sequence whose trained ids are the ids the SGLang stand-in sampled, in order."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from standin import StandIn, tool_then_answer

from tests.conftest import HERMES, run_hermes


@pytest.mark.timeout(300)
def test_a_session_through_the_standalone_proxy_is_written_on_sigterm(chat_tokenizer, tokenizer_dir, tmp_path):
    standin = StandIn(chat_tokenizer, tool_then_answer).start()
    out = tmp_path / "rollouts.jsonl"
    proxy = subprocess.Popen([sys.executable, str(HERMES), "rl", "proxy", "--backend", "sglang", standin.url,
                              "--tokenizer", str(tokenizer_dir), "--port", "0", "--output", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        banner = proxy.stdout.readline()  # printed once it listens
        assert banner.startswith("hermes rl proxy: http://127.0.0.1:"), banner + proxy.stderr.read()
        base = banner.split()[3].replace("<rollout-id>", "task-1")
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
    assert record["rollout_id"] == "task-1" and len(record["calls"]) == 2
    (seq,) = record["sequences"]
    trained = [t for t, m in zip(seq["tokens"], seq["mask"], strict=True) if m]
    assert trained == [i for r in standin.requests for i in r["output_ids"]]  # non-canonical ids, untouched
    assert len(seq["tokens"]) == len(seq["logprobs"]) == len(seq["mask"])


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
    missing = run_hermes("rl", "proxy", "--backend", "vllm", "http://127.0.0.1:9", "--tokenizer",
                         str(tmp_path / "nope"), timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr

