"""Servers that are slow to start, fail to start, never answer, crash mid-call, or outlive hermes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, run_hermes
from tests.extensions.conftest import tool_result
from tests.extensions.servers import read_log, stdio_entry


def alive(pid: int) -> bool:
    try:
        status = open(f"/proc/{pid}/status", encoding="utf-8").read()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_slow_start_hang_crash_and_a_broken_server_never_block_other_tools(
        scripted_llm, write_config, demo_script, server_log, tmp_path):
    write_config(mcp_servers={
        "demo": stdio_entry(demo_script, server_log, timeout=1.5, env={"MCP_TEST_LOG": str(server_log),
                                                                       "MCP_TEST_SLOW": "1.5"}),
        "broken": {"command": str(tmp_path / "no-such-server")},
    })
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("mcp__demo__hang", {}, id="c_hang")]),
        Reply(tool_calls=[ToolCall("mcp__demo__crash", {}, id="c_crash")]),
        Reply(tool_calls=[ToolCall("mcp__demo__echo", {"text": "x"}, id="c_echo"),
                          ToolCall("terminal", {"command": "echo still here"}, id="c_term")]),
        Reply(content="survived"),
    ])
    started = time.monotonic()
    result = run_hermes("-p", "go", "--base-url", llm.base_url, "--model", "m")
    assert (result.returncode, result.stdout) == (0, "survived\n"), result.stderr
    assert time.monotonic() - started < 40

    # The slow server was waited for (and said so); the broken one is one line.
    assert "waiting for MCP server(s) demo" in result.stderr
    [broken] = [line for line in result.stderr.splitlines() if "'broken'" in line]
    assert "failed" in broken and "no-such-server" in broken
    assert "Traceback" not in result.stderr
    offered = {t["function"]["name"] for t in llm.chat_requests[0].body["tools"]}
    assert "mcp__demo__hang" in offered

    hang = tool_result(llm.chat_requests[1], "c_hang")
    assert "no answer within 1.5s" in hang["error"]
    crash = tool_result(llm.chat_requests[2], "c_crash")
    assert "died" in crash["error"] and "about to crash" in crash["error"]  # the server's last stderr line
    last = llm.chat_requests[3]
    assert "not running" in tool_result(last, "c_echo")["error"]
    assert "still here" in tool_result(last, "c_term")["output"]
    assert [r["tool"] for r in read_log(server_log) if "tool" in r] == ["hang", "crash"]


def test_servers_are_stopped_when_hermes_is_hung_up_mid_call(scripted_llm, write_config, demo_script, server_log):
    """SIGHUP (a closed terminal) like SIGTERM and Ctrl-C: atexit stops the servers. Both raise SystemExit."""
    sig = signal.SIGHUP
    write_config(mcp_servers={"demo": stdio_entry(demo_script, server_log)})
    llm = scripted_llm([Reply(tool_calls=[ToolCall("mcp__demo__hang", {}, id="c_hang")]), Reply(content="never")])
    proc = subprocess.Popen([sys.executable, str(HERMES), "-p", "go", "--base-url", llm.base_url, "--model", "m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        assert wait_for(lambda: any(r.get("tool") == "hang" for r in read_log(server_log)))
        [pid] = [r["started"] for r in read_log(server_log) if "started" in r]
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 128 + sig
        assert wait_for(lambda: not alive(pid), timeout=8), "the MCP server outlived hermes"
        assert "Traceback" not in proc.stderr.read().decode()
    finally:
        proc.kill()
