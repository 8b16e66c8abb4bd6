"""MCP over stdio, end to end: ./hermes -p, the scripted model calling a real SDK server's tools.

One session covers what a stdio server can do and how it can fail (each server start costs seconds
of imports, so the scenarios share one): tools, images, embedded resources, tool errors, approval,
resources, a call that never answers, a crash mid-call, a slow start and a server that cannot start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, read_jsonl, run_hermes
from tests.extensions.conftest import tool_result
from tests.extensions.servers import read_log, stdio_entry
from tests.tools.proc_util import process_alive as alive
from tests.tools.proc_util import wait_for


def test_a_stdio_server_session_from_tools_to_crash(scripted_llm, write_config, demo_script, server_log, log_dir,
                                                    tmp_path):
    env = {"MCP_TEST_LOG": str(server_log), "MCP_TEST_SLOW": "1.5"}
    write_config(mcp_servers={
        "demo": stdio_entry(demo_script, server_log, env=env, timeout=1, disabled_tools=["hidden"]),
        "broken": {"command": str(tmp_path / "no-such-server")},
    })
    llm = scripted_llm([
        Reply(tool_calls=[
            ToolCall("mcp__demo__echo", {"text": "hi there"}, id="c_echo"),
            ToolCall("mcp__demo__pic_snapshot", {}, id="c_pic"),
            ToolCall("mcp__demo__doc", {}, id="c_doc"),
            ToolCall("mcp__demo__fail", {"reason": "disk on fire"}, id="c_fail"),
            ToolCall("mcp__demo__write_note", {"name": "a", "body": "b"}, id="c_write"),
        ]),
        Reply(tool_calls=[
            ToolCall("mcp_resources", {"action": "list"}, id="c_list"),
            ToolCall("mcp_resources", {"action": "read", "uri": "note://readme"}, id="c_read"),
        ]),
        Reply(tool_calls=[ToolCall("mcp__demo__hang", {}, id="c_hang")]),
        Reply(tool_calls=[ToolCall("mcp__demo__crash", {}, id="c_crash")]),
        Reply(tool_calls=[ToolCall("mcp__demo__echo", {"text": "x"}, id="c_after"),
                          ToolCall("terminal", {"command": "echo still here"}, id="c_term")]),
        Reply(content="done"),
    ])
    result = run_hermes("-p", "use the demo server", "--base-url", llm.base_url, "--model", "m")
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    assert "Traceback" not in result.stderr

    # The slow server was waited for before the first model call (and said so); the broken one is one line.
    assert "waiting for MCP server(s) demo" in result.stderr
    [broken] = [line for line in result.stderr.splitlines() if "'broken'" in line]
    assert "failed" in broken and "no-such-server" in broken

    # The model was offered the namespaced, sanitised tools (not the disabled one) and the resources tool.
    offered = {t["function"]["name"] for t in llm.chat_requests[0].body["tools"]}
    assert {"mcp__demo__echo", "mcp__demo__pic_snapshot", "mcp__demo__fail", "mcp_resources", "terminal"} <= offered
    assert "mcp__demo__hidden" not in offered

    # What the server received.
    received = read_log(server_log)
    assert {"tool": "echo", "text": "hi there"} in received
    assert {"tool": "fail", "reason": "disk on fire"} in received
    assert {"resource": "note://readme"} in received
    assert not any(r.get("tool") == "write_note" for r in received)  # not read-only: needs approval in -p

    # What the model got back.
    second = llm.chat_requests[1]
    assert tool_result(second, "c_echo") == {"output": "echo: hi there"}
    pic = tool_result(second, "c_pic")
    [image] = pic["images"]
    assert image["mime_type"] == "image/png" and Path(image["path"]).read_bytes().startswith(b"\x89PNG")
    assert image["path"] in pic["output"]
    assert "contents of a.txt" in tool_result(second, "c_doc")["output"]
    assert "disk on fire" in tool_result(second, "c_fail")["error"]
    assert "--yolo" in tool_result(second, "c_write")["error"]
    third = llm.chat_requests[2]
    listing = tool_result(third, "c_list")
    assert listing["resources"][0]["uri"] == "note://readme" and listing["resources"][0]["server"] == "demo"
    assert tool_result(third, "c_read")["content"] == "the readme text"

    # A call that never answers times out; a crash mid-call is an error with the server's last words;
    # afterwards its tools say it is not running and the other tools work.
    assert "no answer within 1s" in tool_result(llm.chat_requests[3], "c_hang")["error"]
    crash = tool_result(llm.chat_requests[4], "c_crash")["error"]
    assert "died" in crash and "about to crash" in crash
    last = llm.chat_requests[5]
    assert "not running" in tool_result(last, "c_after")["error"]
    assert "still here" in tool_result(last, "c_term")["output"]

    # Recorded like built-in tools: the session's tool schemas include the MCP tools.
    [log] = log_dir.glob("session_*.jsonl")
    events = read_jsonl(log)
    start = next(e for e in events if e["type"] == "session_start")
    assert "mcp__demo__echo" in json.dumps(start)
    assert any(e.get("message", {}).get("tool_call_id") == "c_echo" for e in events)
    exported = run_hermes("export", str(log), "--format", "openai")
    assert exported.returncode == 0, exported.stderr
    [record] = [json.loads(line) for line in exported.stdout.splitlines()]
    assert "mcp__demo__echo" in {t["function"]["name"] for t in record["tools"]}
    assert "echo: hi there" in json.dumps(record["messages"])


def test_servers_are_stopped_when_hermes_is_hung_up_mid_call(scripted_llm, write_config, demo_script, server_log):
    """SIGHUP (a closed terminal) like SIGTERM and Ctrl-C: atexit stops the servers. Both raise SystemExit."""
    write_config(mcp_servers={"demo": stdio_entry(demo_script, server_log)})
    llm = scripted_llm([Reply(tool_calls=[ToolCall("mcp__demo__hang", {}, id="c_hang")]), Reply(content="never")])
    proc = subprocess.Popen([sys.executable, str(HERMES), "-p", "go", "--base-url", llm.base_url, "--model", "m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        assert wait_for(lambda: any(r.get("tool") == "hang" for r in read_log(server_log)), timeout=60)
        [pid] = [r["started"] for r in read_log(server_log) if "started" in r]
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=15) == 128 + signal.SIGHUP
        assert wait_for(lambda: not alive(pid), timeout=20), "the MCP server outlived hermes"
        assert "Traceback" not in proc.stderr.read().decode()
    finally:
        proc.kill()
