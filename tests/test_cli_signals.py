"""SIGTERM, SIGHUP (terminal closed) and Ctrl-C stop a one-shot run promptly, kill the commands it started, and log the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, read_jsonl
from tests.tools.proc_util import kill_quietly, wait_for
from tests.tools.proc_util import process_alive as alive


def host_pids(naps: list[str]) -> list[int]:
    """Host pids of `sleep NAP` processes."""
    wanted = {f"sleep\0{nap}\0".encode() for nap in naps}
    pids = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and Path(f"/proc/{name}/cmdline").read_bytes() in wanted:
                pids.append(int(name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("parallel", [False, True])
def test_signal_stops_run_and_its_commands(scripted_llm, log_dir, tmp_path, sig, code, parallel):
    pidfiles = [tmp_path / f"pid{i}" for i in range(2 if parallel else 1)]
    # `$$` inside the OS sandbox is a pid of its own pid namespace: the sleeps are found by a unique
    # duration instead (the pid files only say the commands have started).
    naps = [f"60.{os.getpid()}{i}" for i in range(len(pidfiles))]
    calls = [ToolCall("terminal", {"command": f"echo $$ > {p}; exec sleep {nap}"}) for p, nap in zip(pidfiles, naps, strict=True)]
    llm = scripted_llm([Reply(tool_calls=calls), Reply(content="never")])
    proc = subprocess.Popen(
        [sys.executable, str(HERMES), "-p", "wait", "--base-url", llm.base_url, "--model", "m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )
    assert wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pidfiles), timeout=60)
    assert wait_for(lambda: len(host_pids(naps)) == len(naps), timeout=60)
    pids = host_pids(naps)
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == code
    assert time.monotonic() - started < 10  # not the commands' 60 s
    assert wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10), "a command outlived hermes"
    [log] = log_dir.glob("session_*.jsonl")
    events = read_jsonl(log)
    assert events[-1]["type"] == "session_end"
    messages = [e["message"] for e in events if e["type"] == "message"]
    call_ids = [c["id"] for c in messages[1]["tool_calls"]]
    assert [m["tool_call_id"] for m in messages[2:]] == call_ids  # every call has its result
    assert all("interrupted" in m["content"] for m in messages[2:])
    assert "Traceback" not in proc.stderr.read().decode()


@pytest.mark.parametrize("sandbox", ["off", "workspace-write"])  # off: hermes' subreaper; else the sandbox's pid namespace
def test_a_command_that_escapes_with_setsid_ends_with_hermes(scripted_llm, log_dir, sandbox):
    nap = f"1000.{os.getpid()}5"
    command = f"setsid sleep {nap} >/dev/null 2>&1 < /dev/null & echo started"
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": command})]), Reply(content="done")])
    proc = subprocess.Popen(
        [sys.executable, str(HERMES), "-p", "escape", "--base-url", llm.base_url, "--model", "m", "--sandbox", sandbox],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )
    try:
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out) == (0, b"done\n"), err
        assert wait_for(lambda: not any(alive(pid) for pid in host_pids([nap])), timeout=10), "setsid child outlived hermes"
    finally:
        kill_quietly(host_pids([nap]))
