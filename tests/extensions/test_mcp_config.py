"""`mcp_servers:` parsing, tool names and the approval rule (no servers started here)."""

from __future__ import annotations

import threading

import pytest

from mcp_client.config import parse_servers
from mcp_client.manager import McpTool
from mcp_client.names import tool_name
from mcp_client.tools import approve_mcp_call
from tests.conftest import run_hermes
from tools.registry import ToolContext


def test_peer_shapes_parse_with_aliases_and_env_expansion():
    [stdio, gemini, opencode] = parse_servers({
        # Claude Code's .mcp.json entry, pasted as is
        "files": {"command": "npx", "args": ["-y", "server-filesystem", "${SRC}"], "env": {"LEVEL": "${LVL:-info}"}},
        # Gemini CLI: httpUrl, includeTools/excludeTools
        "gh": {"httpUrl": "https://example.test/mcp", "excludeTools": ["delete"], "headers": {"X-A": "b"}},
        # OpenCode: command as a list, `enabled: false`
        "oc": {"type": "local", "command": ["node", "srv.js"], "enabled": False, "tool_timeout_sec": 5},
    }, environ={"SRC": "/src"})  # the settings loader's environment
    assert (stdio.transport, stdio.command, stdio.args, stdio.env) == ("stdio", "npx", ["-y", "server-filesystem", "/src"],
                                                                        {"LEVEL": "info"})
    assert (gemini.transport, gemini.url, gemini.disabled_tools) == ("http", "https://example.test/mcp", ["delete"])
    assert not gemini.wants_tool("delete") and gemini.wants_tool("list")
    assert (opencode.command, opencode.args, opencode.enabled, opencode.timeout) == ("node", ["srv.js"], False, 5.0)


@pytest.mark.parametrize("entry, message", [
    ({"args": ["x"]}, "needs `command`"),
    ({"type": "sse", "url": "http://x"}, "legacy SSE transport is not supported"),
    ({"command": "x", "startup_timeout": "soon"}, "'startup_timeout' must be a number of seconds"),
    ({"command": "x", "comand": "y"}, "unknown key 'comand'"),
    ({"url": "ftp://x"}, "needs `url` starting with http"),
])
def test_bad_server_entries_are_one_line_with_file_and_line(write_config, entry, message):
    path = write_config(mcp_servers={"ok": {"command": "true"}, "bad": entry})
    result = run_hermes("-p", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"hermes: error: {path}:") and "mcp_servers.bad" in line and message in line


def test_names_follow_the_api_rules_and_stay_unique():
    assert tool_name("github", "create_issue") == "mcp__github__create_issue"
    assert tool_name("my.server", "files/read.v2") == "mcp__my_server__files_read_v2"
    long_a, long_b = tool_name("s", "x" * 80 + "a"), tool_name("s", "x" * 80 + "b")
    assert len(long_a) == 64 and long_a != long_b
    assert all(c.isalnum() or c in "_-" for c in long_a)
    assert tool_name("s", "a.b", taken={"mcp__s__a_b"}) == "mcp__s__a_b_2"


def test_read_only_and_trusted_tools_run_without_asking_others_ask_or_are_denied():
    read_only = McpTool("srv", "get", "", {}, read_only=True)
    writer = McpTool("srv", "put", "", {}, read_only=False)
    asked: list[tuple[str, str]] = []

    def approve(command: str, reason: str) -> bool:
        asked.append((command, reason))
        return command.startswith("mcp__srv__put")

    ctx = ToolContext(interrupt=threading.Event(), approve=approve)
    assert approve_mcp_call("mcp__srv__get", read_only, {}, ctx, trusted=False) is None
    assert approve_mcp_call("mcp__srv__put", writer, {"k": 1}, ctx, trusted=False) is None
    assert asked == [('mcp__srv__put {"k": 1}', "mcp__srv__put is not marked read-only and may change things")]
    assert approve_mcp_call("mcp__srv__put", writer, {}, ctx, trusted=True) is None and len(asked) == 1
    denied = approve_mcp_call("mcp__srv__put", writer, {}, ToolContext(), trusted=False)
    assert "non-interactive" in denied and "--yolo" in denied
    assert approve_mcp_call("mcp__srv__put", writer, {}, ToolContext(yolo=True), trusted=False) is None
    # the one gate's modes apply: plan mode refuses a writer even from a trusted server, and runs readers
    plan = ToolContext(approve=approve, approval_mode="read-only")
    assert "read-only mode" in approve_mcp_call("mcp__srv__put", writer, {}, plan, trusted=True)
    assert approve_mcp_call("mcp__srv__get", read_only, {}, plan, trusted=False) is None and len(asked) == 1


def test_a_yaml_boolean_server_name_is_one_clear_line(hermetic_env):
    (hermetic_env / "config.yaml").write_text("mcp_servers:\n  off:\n    command: x\n", encoding="utf-8")
    result = run_hermes("--list-tools")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("quote it in the YAML (e.g. \"off\":)")
