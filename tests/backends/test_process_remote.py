"""The `process` tool on a remote backend: status and output are read where the process runs."""

from __future__ import annotations

import time


def test_poll_wait_read_and_kill_over_ssh(ssh_env, run_tool) -> None:
    started = run_tool("terminal", {"command": "echo one; sleep 3; echo two; exit 4", "background": True})
    pid = started["pid"]
    deadline, first = time.monotonic() + 10, ""
    while not first and time.monotonic() < deadline:  # an ssh round trip here can take 0.4 s (root's bashrc)
        first = run_tool("process", {"action": "poll", "pid": pid})["output"]
    assert first == "one\n"
    done = run_tool("process", {"action": "wait", "pid": pid, "timeout": 10})
    assert (done["status"], done["exit_code"], done["output"]) == ("exited", 4, "two\n")
    assert run_tool("process", {"action": "read", "pid": pid, "offset": 4})["output"] == "two\n"
    sleeper = run_tool("terminal", {"command": "sleep 300", "background": True})["pid"]
    assert run_tool("process", {"action": "kill", "pid": sleeper})["status"] == "exited"
