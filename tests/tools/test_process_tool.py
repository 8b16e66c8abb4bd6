"""The `process` tool over real background bash processes."""

from __future__ import annotations

import time
from pathlib import Path

from proc_util import wait_for


def start(run_tool, command: str) -> int:
    started = run_tool("terminal", {"command": command, "background": True})
    assert started["status"] == "started", started
    return started["pid"]


def test_poll_returns_new_output_and_wait_reports_the_exit(run_tool, tmp_path):
    go = tmp_path / "go"  # the command goes on only when the test says so, however busy the machine
    pid = start(run_tool, f"echo first; while [ ! -e {go} ]; do sleep 0.01; done; echo second; exit 3")
    listed = run_tool("process", {"action": "list"})["processes"]
    assert [(p["pid"], p["status"]) for p in listed] == [(pid, "running")]
    polls = []
    assert wait_for(lambda: polls.append(run_tool("process", {"action": "poll", "pid": pid})) or polls[-1]["output"])
    assert (polls[-1]["status"], "".join(p["output"] for p in polls)) == ("running", "first\n")
    go.touch()
    done = run_tool("process", {"action": "wait", "pid": pid, "timeout": 10})
    assert (done["status"], done["exit_code"], done["output"]) == ("exited", 3, "second\n")  # only what is new
    assert run_tool("process", {"action": "read", "pid": pid})["output"] == "first\nsecond\n"


def test_read_pages_long_output(run_tool):
    pid = start(run_tool, "head -c 50000 /dev/zero | tr '\\0' x")
    run_tool("process", {"action": "wait", "pid": pid, "timeout": 10})
    page = run_tool("process", {"action": "read", "pid": pid})
    assert len(page["output"]) == 20_000 and page["next_offset"] == 20_000 and page["output_bytes"] == 50_000
    last = run_tool("process", {"action": "read", "pid": pid, "offset": 40_000})
    assert len(last["output"]) == 10_000 and "next_offset" not in last


def test_kill_stops_the_whole_group(run_tool):
    pid = start(run_tool, "sleep 300 & sleep 300")
    assert wait_for(lambda: len(live_members(pid)) >= 2)  # both sleeps started
    killed = run_tool("process", {"action": "kill", "pid": pid})
    assert killed["status"] == "exited"
    assert wait_for(lambda: live_members(pid) == [])


def live_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (an orphan's zombie waits for init to reap it)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_wait_times_out_and_unknown_pids_are_clear_errors(run_tool):
    pid = start(run_tool, "sleep 5")
    started = time.monotonic()
    waited = run_tool("process", {"action": "wait", "pid": pid, "timeout": 0.5})
    assert waited["status"] == "running" and time.monotonic() - started < 4.5  # gave up before the end
    missing = run_tool("process", {"action": "poll", "pid": 999999})
    assert missing["error"] == f"no background process 999999 in this session (running here: {pid})"
    assert "pid" in run_tool("process", {"action": "poll"})["error"]
    assert "unknown action" in run_tool("process", {"action": "explode", "pid": pid})["error"]


def test_dangerous_background_commands_need_approval(run_tool, workdir):
    (workdir / "victim").mkdir()
    refused = run_tool("terminal", {"command": "rm -r victim", "background": True})
    assert "needs approval" in refused["error"]
    assert run_tool("process", {"action": "list"})["processes"] == []
    assert (workdir / "victim").exists()
