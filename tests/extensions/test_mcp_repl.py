"""The REPL with an MCP server that is slow to start: the prompt does not wait; /mcp, prompts, approvals."""

from __future__ import annotations

import json
import os
import signal
import time

from scripted_server import Reply, ToolCall
from tests.extensions.servers import read_log, stdio_entry
from tests.extensions.test_mcp_stdio import alive, wait_for
from tests.repl.test_repl_pty import PROMPT, Repl


def test_repl_mcp_status_prompt_command_approval_and_hooks(scripted_llm, write_config, demo_script, server_log):
    env = {"MCP_TEST_LOG": str(server_log), "MCP_TEST_SLOW": "2"}
    spare_log = server_log.with_name("spare.jsonl")
    write_config(mcp_servers={"demo": stdio_entry(demo_script, server_log, env=env),
                              "spare": stdio_entry(demo_script, spare_log, enabled_tools=["echo"])},
                 hooks={"PreToolUse": [{"matcher": "mcp__.*", "hooks": [{"type": "command", "command": "true"}]}]})
    llm = scripted_llm([
        Reply(content="looks fine"),
        Reply(tool_calls=[ToolCall("mcp__demo__write_note", {"name": "todo", "body": "ship it"}, id="c_w")]),
        Reply(content="noted"),
    ])
    started = time.monotonic()
    repl = Repl(llm)
    try:
        # The prompt is up while the server is still sleeping before it serves.
        assert not read_log(server_log) or time.monotonic() - started < 2
        first = repl.output_of("/mcp")
        assert "starting" in first or "ready" in first
        assert wait_for(lambda: repl.output_of("/mcp").count("ready (stdio") == 2, timeout=40), repl.screen[-2000:]
        status = repl.output_of("/mcp")
        assert "mcp__demo__echo" in status and "/demo:review" in status and "mcp__spare__echo" in status
        assert "mcp__spare__hang" not in status

        assert "mcp__.*" in repl.output_of("/hooks")
        assert "toolsets: mcp-demo (8 tools)" in repl.output_of("/toolsets mcp-demo")

        repl.say("/demo:review src/app.py")
        assert llm.chat_requests[0].body["messages"][-1] == {
            "role": "user", "content": "Please review src/app.py, looking for bugs."}
        assert {"prompt": "review", "path": "src/app.py", "focus": "bugs"} in read_log(server_log)
        assert "looks fine" in repl.screen
        repl.child.send("/demo:rev")  # Tab completes MCP prompts like commands
        time.sleep(0.2)
        repl.child.send("\t")
        time.sleep(0.3)
        repl.enter()
        repl.child.expect(PROMPT)
        assert "missing argument(s) path; usage: /demo:review path=… [focus=…]" in repl.screen

        repl.type("write a note")  # not read-only: the REPL asks
        repl.child.expect("allow\\?")
        repl.child.send("y")
        repl.child.expect(PROMPT)
        assert {"tool": "write_note", "name": "todo", "body": "ship it"} in read_log(server_log)
        assert {t["function"]["name"] for t in llm.chat_requests[1].body["tools"]} >= {"mcp__demo__write_note"}
        assert "terminal" not in {t["function"]["name"] for t in llm.chat_requests[1].body["tools"]}
        tool = next(m for m in llm.chat_requests[2].body["messages"] if m["role"] == "tool")
        assert json.loads(tool["content"]) == {"output": "saved todo"}

        # A server that dies while idle is noticed (liveness pings) and shown as exited; the others go on.
        [spare_pid] = [r["started"] for r in read_log(spare_log) if "started" in r]
        os.kill(spare_pid, signal.SIGKILL)
        assert wait_for(lambda: "spare: exited" in repl.output_of("/mcp"), timeout=30)
        assert "demo: ready (stdio" in repl.output_of("/mcp")

        [pid] = [r["started"] for r in read_log(server_log) if "started" in r]
        assert repl.quit() == 0
        assert wait_for(lambda: not alive(pid), timeout=20), "the MCP server outlived the REPL"
    finally:
        if repl.child.isalive():
            repl.child.terminate(force=True)
