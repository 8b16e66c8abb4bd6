"""The approval gate and the path policy: what each mode does with commands, edits and protected paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools import gate
from tools.path_policy import OUTSIDE, PROTECTED, WORKSPACE, PathPolicy, WriteClass

RM = gate.Command("rm -r build", gate.CommandVerdict(gate.NEEDS_APPROVAL, "recursive delete (rm -r)"))
LS = gate.Command("ls -la", gate.CommandVerdict())
BOOM = gate.Command("rm -rf /", gate.CommandVerdict(gate.BLOCKED, "recursive delete of /"))
EDIT = gate.FileWrite("/w/a.py", WriteClass(WORKSPACE, "", "/w/a.py"))
OUT = gate.FileWrite("/opt/a", WriteClass(OUTSIDE, "/opt/a is outside the workspace", "/opt/a"))
RC = gate.FileWrite("/h/.bashrc", WriteClass(PROTECTED, "shell start-up file ~/.bashrc", "/h/.bashrc"))
MCP_W = gate.ToolCall("mcp__db__drop", read_only=False)
MCP_R = gate.ToolCall("mcp__db__query", read_only=True)

TABLE = {
    #            read-only  ask     auto-edit  yolo
    "rm":       ("deny",   "ask",  "ask",     "allow"),
    "ls":       ("allow",  "allow", "allow",  "allow"),
    "boom":     ("deny",   "deny", "deny",    "deny"),
    "edit":     ("deny",   "ask",  "allow",   "allow"),
    "out":      ("deny",   "ask",  "ask",     "allow"),
    "rc":       ("deny",   "ask",  "ask",     "allow"),
    "mcp_w":    ("deny",   "ask",  "ask",     "allow"),
    "mcp_r":    ("allow",  "allow", "allow",  "allow"),
}
ACTIONS = {"rm": RM, "ls": LS, "boom": BOOM, "edit": EDIT, "out": OUT, "rc": RC, "mcp_w": MCP_W, "mcp_r": MCP_R}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_decision_table(name: str) -> None:
    got = tuple(gate.decide(ACTIONS[name], mode).outcome for mode in gate.MODES)
    assert got == TABLE[name]


def test_protected_rule_is_as_narrow_as_the_path() -> None:
    decision = gate.decide(RC, gate.AUTO_EDIT)
    assert "~/.bashrc" in decision.reason and decision.rule.endswith("[/h/.bashrc]")


def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="read-only, ask, auto-edit, yolo"):
        gate.parse_mode("sometimes")
    assert gate.parse_mode("AUTO_EDIT") == gate.AUTO_EDIT


@pytest.mark.parametrize("command", [
    "ls -la", "cat a.txt | grep foo | wc -l", "rg -n TODO src", "git status", "git log --oneline -5",
    "git diff HEAD~1", "find . -name '*.py'", "grep -r x . 2>/dev/null", "head -n 5 a && tail b",
    "git branch -a", "git remote -v", "git tag --list",
])
def test_read_only_allowlist_runs(command: str) -> None:
    assert gate.read_only_refusal(command) is None


@pytest.mark.parametrize("command", [
    "rm a", "echo x > a", "echo x >> ~/.bashrc", "find . -delete", "find . -exec rm {} +", "git commit -m x",
    "git branch -D main", "python3 -c 'print(1)'", "ls $(rm -rf x)", "cat `whoami`", "sed -i s/a/b/ f",
    "sort -o out in", "env rm x", "awk '{system(\"rm x\")}'", "echo 'unbalanced",
    "git branch new-branch", "git tag v1", "git remote add o url", "git diff --output=f", "git -C / status",
    "git reflog expire --all",
])
def test_read_only_allowlist_refuses(command: str) -> None:
    assert gate.read_only_refusal(command)


# -- the path policy ------------------------------------------------------------------------------

@pytest.fixture
def policy(tmp_path: Path) -> PathPolicy:
    home, hh, ws = tmp_path / "home", tmp_path / "home" / ".hermes", tmp_path / "ws"
    for d in (home, hh, ws):
        d.mkdir(parents=True, exist_ok=True)
    return PathPolicy.for_host(ws, hermes_home=hh, hermes_cwd=ws, home=home, temp_dir=str(tmp_path / "tmp"))


@pytest.mark.parametrize("rel, kind", [
    ("ws/src/a.py", WORKSPACE), ("tmp/scratch", WORKSPACE), ("elsewhere/x", OUTSIDE),
    ("home/.bashrc", PROTECTED), ("home/.profile", PROTECTED), ("home/.ssh/authorized_keys", PROTECTED),
    ("home/.config/fish/config.fish", PROTECTED), ("home/.config/autostart/x.desktop", PROTECTED),
    ("home/.config/systemd/user/x.service", PROTECTED), ("ws/.git/hooks/pre-commit", PROTECTED),
    ("ws/sub/.git/config", PROTECTED), ("home/.hermes/config.yaml", PROTECTED), ("home/.hermes/.env", PROTECTED),
    ("home/.hermes/skills/x/SKILL.md", PROTECTED), ("ws/.env", PROTECTED), ("ws/cli-config.yaml", PROTECTED),
    ("ws/sub/.env", WORKSPACE),
])
def test_where_a_write_lands(policy: PathPolicy, tmp_path: Path, rel: str, kind: str) -> None:
    assert policy.classify_write(tmp_path / rel).kind == kind


def test_system_places_are_protected(policy: PathPolicy) -> None:
    for path in ("/etc/cron.d/job", "/var/spool/cron/crontabs/root", "/etc/profile.d/x.sh", "/root/.ssh/authorized_keys"):
        assert policy.classify_write(path).kind == PROTECTED, path


def test_symlinks_and_dotdot_are_resolved_before_deciding(policy: PathPolicy, tmp_path: Path) -> None:
    (tmp_path / "home" / ".bashrc").write_text("# rc\n")
    os.symlink(tmp_path / "home" / ".bashrc", tmp_path / "ws" / "innocent.txt")
    os.symlink(tmp_path / "home" / ".ssh", tmp_path / "ws" / "keys")
    assert policy.classify_write(tmp_path / "ws" / "innocent.txt").kind == PROTECTED
    assert policy.classify_write(tmp_path / "ws" / "keys" / "authorized_keys").kind == PROTECTED
    assert policy.classify_write(tmp_path / "ws" / ".." / "home" / ".profile").kind == PROTECTED


def test_credentials_are_unreadable_but_skills_are(policy: PathPolicy, tmp_path: Path) -> None:
    hh = tmp_path / "home" / ".hermes"
    assert "credentials" in policy.read_refusal(hh / ".env")
    assert policy.read_refusal(hh / "config.yaml")
    assert policy.read_refusal(tmp_path / "ws" / ".env")
    assert policy.read_refusal(hh / "skills" / "x" / "SKILL.md") is None
    assert policy.read_refusal(tmp_path / "ws" / "README.md") is None
    os.symlink(hh / ".env", tmp_path / "ws" / "notes.txt")
    assert policy.read_refusal(tmp_path / "ws" / "notes.txt")


def test_the_file_tools_never_read_hermes_own_process(policy: PathPolicy) -> None:
    import threading

    assert policy.read_refusal("/proc/self/environ")
    assert policy.read_refusal(f"/proc/{os.getpid()}/cmdline")
    assert policy.read_refusal("/proc/1/environ")
    tid = threading.get_native_id()
    assert policy.read_refusal(f"/proc/{tid}/status")
    assert policy.read_refusal("/proc/cpuinfo") is None and policy.read_refusal("/proc/1/status") is None


def test_read_file_refuses_proc_self_environ(run_tool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-shown-0123456789")
    for path in ("/proc/self/environ", f"/proc/{os.getpid()}/environ", f"/proc/{os.getpid()}/task/{os.getpid()}/environ"):
        result = run_tool("read_file", {"path": path})
        assert "hermes' own process" in result["error"], result
    found = run_tool("search_files", {"pattern": "sk-never-shown", "path": f"/proc/{os.getpid()}"})
    assert "sk-never-shown" not in str(found)


@pytest.mark.parametrize("mode, approve, ran, message", [
    ("read-only", None, False, "read-only mode"),
    ("ask", None, False, "needs approval"),
    ("ask", lambda subject, rule: "mcp__db__drop" in subject and "may change things" in rule, True, None),
    ("auto-edit", lambda subject, rule: False, False, "the user denied"),
    ("yolo", None, True, None),
])
def test_a_tool_that_is_not_read_only_goes_through_the_gate(mode, approve, ran, message) -> None:
    """Any tool registered with read_only=False (an MCP tool, say) is gated by dispatch itself."""
    import json

    import model_tools
    from tools.registry import REGISTRY, Tool, ToolContext, register, tool_result

    calls: list[dict] = []
    register(Tool(name="mcp__db__drop", toolset="mcp", description="drop a table",
                  parameters={"type": "object", "properties": {"table": {"type": "string"}}},
                  handler=lambda args, ctx: calls.append(args) or tool_result(ok=True), read_only=False))
    try:
        ctx = ToolContext(task_id="t", approve=approve, approval_mode=mode)
        result = json.loads(model_tools.handle_function_call("mcp__db__drop", {"table": "users"}, ctx=ctx))
    finally:
        REGISTRY.pop("mcp__db__drop", None)
    assert bool(calls) is ran
    if message:
        assert message in result["error"]
    else:
        assert result == {"ok": True}


def test_a_workspace_at_the_root_is_not_everything(tmp_path: Path) -> None:
    policy = PathPolicy.for_host("/", hermes_home=tmp_path / "hh", hermes_cwd="/", home=tmp_path,
                                 temp_dir=str(tmp_path / "tmp"))
    assert policy.classify_write("/opt/x").kind == OUTSIDE
    assert policy.classify_write(tmp_path / "tmp" / "x").kind == WORKSPACE
