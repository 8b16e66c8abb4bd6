"""MCP over stdio, end to end: ./hermes -p, the scripted model calling a real SDK server's tools."""

from __future__ import annotations

import json
from pathlib import Path

from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl, run_hermes
from tests.extensions.conftest import tool_result
from tests.extensions.servers import read_log, stdio_entry


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--model", "m"]


def test_tools_images_resources_and_errors_reach_the_model(scripted_llm, write_config, demo_script, server_log,
                                                          log_dir):
    write_config(mcp_servers={"demo": stdio_entry(demo_script, server_log, disabled_tools=["crash"])})
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
        Reply(content="done"),
    ])
    result = run_hermes("-p", "use the demo server", *flags(llm))
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    assert "Traceback" not in result.stderr

    # The model was offered the namespaced, sanitised tools (not the disabled one) and the resources tool.
    offered = {t["function"]["name"] for t in llm.chat_requests[0].body["tools"]}
    assert {"mcp__demo__echo", "mcp__demo__pic_snapshot", "mcp__demo__fail", "mcp_resources"} <= offered
    assert "mcp__demo__crash" not in offered and "terminal" in offered

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

    # Recorded like built-in tools: the session's tool schemas include the MCP tools.
    [log] = log_dir.glob("session_*.jsonl")
    events = read_jsonl(log)
    start = next(e for e in events if e["type"] == "session_start")
    assert "mcp__demo__echo" in json.dumps(start)
    assert any(m.get("tool_call_id") == "c_echo" for m in (e.get("message", {}) for e in events))
