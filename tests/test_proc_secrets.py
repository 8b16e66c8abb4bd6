"""The model cannot read the agent's credentials from /proc/<hermes pid>/environ or cmdline.

hermes overwrites them where /proc reads them at start-up, or else re-executes itself with the
secrets moved to a memfd (hermes_cli/hide_secrets.py; both paths are tested); a command run by the
terminal tool walks up its whole ancestry and prints every environ and cmdline.
"""

from __future__ import annotations

import json

import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import run_hermes

KEY = "sk-proc-secret-0123456789abcdef"
DB_PASSWORD = "dbpass-5ecr3t-987"

# Every ancestor of the command's shell, up to init: its environ and its cmdline.
WALK_UP = (
    "p=$$; while [ \"$p\" -gt 1 ]; do "
    "echo \"== $p\"; tr '\\0' '\\n' < /proc/$p/environ; echo; tr '\\0' ' ' < /proc/$p/cmdline; echo; "
    "p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2); done; cat /proc/$PPID/environ /proc/$PPID/cmdline"
)


@pytest.fixture(params=["in_place", "reexec"])
def hide_path(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test through both ways of hiding: overwriting in place, and the re-exec fallback."""
    if request.param == "reexec":
        monkeypatch.setenv("HERMES_HIDE_SECRETS_BY_REEXEC", "1")
    return request.param


def _run(scripted_llm, *flags: str, env: dict[str, str] | None = None):
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": WALK_UP})]), Reply(content="read")])
    # --sandbox off: in the sandbox hermes is not in /proc at all (tests/tools/test_sandbox.py); this
    # checks the layer below it, what an unconfined command (or another backend's host) can read
    result = run_hermes("-p", "read /proc", "--base-url", llm.base_url, "--model", "m", "--yolo", "--sandbox", "off",
                        *flags, env=env)
    assert result.returncode == 0, result.stderr
    sent = json.dumps([r.body for r in llm.chat_requests])
    tool_output = json.loads(next(m for m in llm.chat_requests[1].body["messages"] if m["role"] == "tool")["content"])
    return llm, sent, tool_output["output"]


def test_api_key_flag_is_not_in_any_ancestor_cmdline(scripted_llm, hide_path):
    llm, sent, output = _run(scripted_llm, "--api-key", KEY)
    assert "--api-key" in output and "--yolo" in output  # the walk did reach hermes' own cmdline
    assert KEY not in sent and KEY not in output
    assert llm.chat_requests[0].headers.get("authorization") == f"Bearer {KEY}"  # still used for the endpoint


def test_secret_variables_are_not_in_any_ancestor_environ(scripted_llm, hide_path):
    env = {"OPENAI_API_KEY": KEY, "DATABASE_URL": f"postgres://app:{DB_PASSWORD}@db.invalid/prod"}
    llm, sent, output = _run(scripted_llm, env=env)
    assert "HERMES_HOME=" in output  # the walk did read hermes' own environment
    for secret in (KEY, DB_PASSWORD):
        assert secret not in sent and secret not in output
    assert llm.chat_requests[0].headers.get("authorization") == f"Bearer {KEY}"


def test_version_answers_without_reexec_and_plain_runs_do_not_reexec(scripted_llm):
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "echo ${HERMES_SECRETS_FD:-none}"})]),
                        Reply(content="ok")])
    result = run_hermes("-p", "x", "--base-url", llm.base_url, "--model", "m")
    assert result.returncode == 0, result.stderr
    tool = json.loads(next(m for m in llm.chat_requests[1].body["messages"] if m["role"] == "tool")["content"])
    assert tool["output"].strip() == "none"
    assert run_hermes("--version", env={"OPENAI_API_KEY": KEY}).stdout.startswith("hermes ")
