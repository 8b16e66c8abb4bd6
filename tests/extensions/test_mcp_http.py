"""MCP over streamable HTTP on 127.0.0.1, with a bearer token from an environment variable."""

from __future__ import annotations

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import run_hermes
from tests.extensions.conftest import tool_result
from tests.extensions.servers import HttpServer, read_log


@pytest.fixture
def http_server(demo_script, server_log):
    server = HttpServer(demo_script, server_log).start()
    yield server
    server.close()


def test_http_server_tools_with_bearer_token_list_tools_and_replay(scripted_llm, write_config, http_server, server_log,
                                                                    log_dir):
    write_config(mcp_servers={"remote": {"type": "http", "url": http_server.url, "bearer_token_env_var": "REMOTE_TOKEN",
                                         "headers": {"X-Team": "${TEAM:-core}"}, "disabled_tools": ["crash", "hang", "hidden"]}})
    env = {"REMOTE_TOKEN": "tok-0123456789abcdef"}

    listing = run_hermes("--list-tools", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "mcp-remote:" in listing.stdout and "✓ mcp__remote__echo" in listing.stdout
    assert "mcp__remote__hang" not in listing.stdout
    assert "remote  ready (http:" in listing.stdout

    llm = scripted_llm([Reply(tool_calls=[ToolCall("mcp__remote__echo", {"text": "over http"}, id="c1")]),
                        Reply(content="ok")])
    result = run_hermes("-p", "go", "--base-url", llm.base_url, "--model", "m", "--toolsets", "mcp-remote", env=env)
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr
    assert {t["function"]["name"] for t in llm.chat_requests[0].body["tools"]} == {
        "mcp__remote__echo", "mcp__remote__pic_snapshot", "mcp__remote__doc", "mcp__remote__fail",
        "mcp__remote__write_note"}
    assert tool_result(llm.chat_requests[1], "c1") == {"output": "echo: over http"}
    assert {"tool": "echo", "text": "over http"} in read_log(server_log)
    assert http_server.headers and all(h.get("authorization") == "Bearer tok-0123456789abcdef"
                                       for h in http_server.headers)
    assert all(h.get("x-team") == "core" for h in http_server.headers)

    # Replay runs the recorded MCP call again against the server.
    [log] = log_dir.glob("session_*.jsonl")
    replayed = run_hermes("replay", str(log), env=env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "all 1 steps matched" in replayed.stdout
    assert [r for r in read_log(server_log) if r.get("tool") == "echo"] == [{"tool": "echo", "text": "over http"}] * 2
