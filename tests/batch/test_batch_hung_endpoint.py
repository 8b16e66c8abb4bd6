"""An endpoint that takes the request and sends nothing back (not even headers): a sample timeout
or a Ctrl-C still ends the run within seconds on either driver. Before, the thread-pool driver sat
in the SDK's blocked read until the endpoint answered or the 30 s stall timeout passed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from scripted_server import Reply
from tests.batch.test_batch_runner import KEY, batch, records, write_dataset
from tests.conftest import HERMES

HANG = 120.0  # far past the stall timeout (30 s) too: only a cut call ends sooner


@pytest.mark.parametrize("driver", ["threads", "asyncio"])
def test_sample_timeout_cuts_a_call_waiting_for_its_first_byte(scripted_llm, tmp_path, driver):
    llm = scripted_llm(lambda body, index: Reply(content="too late", delay=HANG))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "hang one"}, {"prompt": "hang two"}])
    started = time.monotonic()
    result = batch(llm, tmp_path, str(dataset), "--run-name", "h", "--driver", driver, "--sample-timeout", "2",
                   "--num-workers", "2", timeout=90)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert took < 20, f"the run took {took:.0f} s"
    failed = records(tmp_path / "data/h/failed.jsonl")
    assert sorted((f["prompt_index"], f["reason"], f["error"]) for f in failed) == [
        (0, "timeout", "no answer within 2 s"), (1, "timeout", "no answer within 2 s")]
    assert not (tmp_path / "data/h/trajectories.jsonl").read_text().strip()


@pytest.mark.parametrize("driver", ["threads", "asyncio"])
def test_ctrl_c_cuts_calls_waiting_for_their_first_byte(scripted_llm, tmp_path, driver):
    llm = scripted_llm(lambda body, index: Reply(content="too late", delay=HANG))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"hang {i}"} for i in range(4)])
    argv = [sys.executable, str(HERMES), "batch", str(dataset), "--run-name", "c", "--num-workers", "4",
            "--driver", driver, "--base-url", llm.base_url, "--api-key", KEY, "--model", "m", "-q",
            "--output-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while len(llm.chat_requests) < 4 and time.monotonic() < deadline:  # every sample is waiting
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    stopped = time.monotonic()
    try:
        stderr = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - stopped
    assert proc.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, stderr
    assert took < 10, f"the run went on {took:.0f} s after Ctrl-C"
    assert not records(tmp_path / "data/c/trajectories.jsonl")  # nothing answered; resume runs all four
