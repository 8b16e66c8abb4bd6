"""The `process` tool on a remote backend: status and output are read where the process runs."""

from __future__ import annotations

import time


def test_poll_wait_read_and_kill_over_ssh(ssh_env, run_tool) -> None:
    started = run_tool("terminal", {"command": "echo one; sleep 0.5; echo two; exit 4", "background": True})
    pid = started["pid"]
    time.sleep(0.2)
    assert run_tool("process", {"action": "poll", "pid": pid})["output"] == "one\n"
    done = run_tool("process", {"action": "wait", "pid": pid, "timeout": 10})
    assert (done["status"], done["exit_code"], done["output"]) == ("exited", 4, "two\n")
    assert run_tool("process", {"action": "read", "pid": pid, "offset": 4})["output"] == "two\n"
    sleeper = run_tool("terminal", {"command": "sleep 300", "background": True})["pid"]
    assert run_tool("process", {"action": "kill", "pid": sleeper})["status"] == "exited"
