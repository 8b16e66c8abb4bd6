"""The `terminal` tool end to end: JSON shape, per-task state, background runs, approval policy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from proc_util import process_alive, wait_for

from tools.environments import manager
from tools.registry import REGISTRY


def test_result_shape_and_exit_code(run_tool):
    ok = run_tool("terminal", {"command": "echo hello"})
    assert ok == {"output": "hello\n", "exit_code": 0, "error": None}
    failed = run_tool("terminal", {"command": "exit 3"})
    assert failed["exit_code"] == 3 and failed["error"] is None


def test_state_persists_per_task_and_tasks_are_isolated(run_tool, workdir: Path):
    run_tool("terminal", {"command": "mkdir -p one && cd one && export WHO=first"}, task_id="a")
    run_tool("terminal", {"command": "export WHO=second"}, task_id="b")
    a = run_tool("terminal", {"command": "pwd; echo $WHO"}, task_id="a")
    b = run_tool("terminal", {"command": "pwd; echo $WHO"}, task_id="b")
    assert a["output"].split() == [str(workdir / "one"), "first"]
    assert b["output"].split() == [str(workdir), "second"]
    assert manager.get_environment("a") is not manager.get_environment("b")


def test_timeout_argument_is_used_and_reported(run_tool):
    result = run_tool("terminal", {"command": "sleep 30", "timeout": 1})
    assert result["timed_out"] is True
    assert result["exit_code"] == 124
    assert "timed out after 1 s" in result["error"]


def test_timeout_is_clamped_to_at_least_one_second(run_tool):
    result = run_tool("terminal", {"command": "sleep 0.5; echo done", "timeout": 0})
    assert result["output"] == "done\n"


def test_truncated_count_is_reported(run_tool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERMINAL_MAX_OUTPUT_CHARS", "1000")
    result = run_tool("terminal", {"command": "seq 1 100000"})
    assert result["truncated"] > 500_000
    assert f"[... {result['truncated']} characters truncated ...]" in result["output"]


def test_secrets_are_hidden_from_the_tool(run_tool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak-42")
    assert run_tool("terminal", {"command": 'echo "[$OPENAI_API_KEY]"'})["output"] == "[]\n"


def test_background_start_writes_output_file_and_cleanup_kills_it(run_tool):
    result = run_tool("terminal", {"command": "echo ready; exec sleep 100", "background": True}, task_id="bg")
    assert result["status"] == "started"
    pid, log = result["pid"], result["output_file"]
    assert wait_for(lambda: Path(log).read_text(encoding="utf-8") == "ready\n")
    assert process_alive(pid)
    assert [p.pid for p in manager.background_processes("bg")] == [pid]
    manager.cleanup_environment("bg")
    assert wait_for(lambda: not process_alive(pid), 10.0)
    assert not os.path.exists(log)


def test_background_sees_the_task_cwd_and_exports(run_tool, workdir: Path):
    run_tool("terminal", {"command": "mkdir -p srv && cd srv && export PORT=8123"}, task_id="bg2")
    result = run_tool("terminal", {"command": "pwd; echo $PORT", "background": True}, task_id="bg2")
    log = Path(result["output_file"])
    assert wait_for(lambda: log.read_text(encoding="utf-8").count("\n") == 2)
    assert log.read_text(encoding="utf-8").split() == [str(workdir / "srv"), "8123"]


def test_unavailable_backend_is_a_clear_error(run_tool, monkeypatch: pytest.MonkeyPatch, workdir: Path):
    monkeypatch.setenv("TERMINAL_ENV", "docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{workdir}/no-daemon.sock")  # never a silent local fallback
    result = run_tool("terminal", {"command": "echo hi"}, task_id="dock")
    assert result["error"].startswith("docker backend: ") and "\n" not in result["error"]
    assert result["exit_code"] == -1
    monkeypatch.setenv("TERMINAL_ENV", "nosuch")  # the settings name the variable, the value and the choices
    assert run_tool("terminal", {"command": "echo hi"}, task_id="x")["error"] == (
        "env TERMINAL_ENV: 'nosuch' is not valid for terminal.backend; "
        "expected one of local, docker, ssh, singularity, apptainer, modal")


def test_terminal_timeout_env_sets_the_default(run_tool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERMINAL_TIMEOUT", "1")
    result = run_tool("terminal", {"command": "sleep 10"}, task_id="short")
    assert result["timed_out"] is True


def test_empty_command_is_an_error(run_tool):
    assert "non-empty" in run_tool("terminal", {"command": "  "})["error"]


def test_interrupt_event_from_the_context(run_tool):
    import threading

    event = threading.Event()
    threading.Timer(0.2, event.set).start()
    result = run_tool("terminal", {"command": "sleep 20"}, interrupt=event)
    assert result["interrupted"] is True
    assert result["error"] == "command interrupted by the user"


# -- approval policy ---------------------------------------------------------------------------------

def test_blocked_command_never_runs_even_with_yolo(run_tool, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HERMES_YOLO", "1")
    asked = []
    result = run_tool(
        "terminal", {"command": f"touch {workdir}/ran; rm -rf /"}, yolo=True, approve=lambda c, r: asked.append(c) or True
    )
    assert "blocked" in result["error"] and "recursive delete of /" in result["error"]
    assert not (workdir / "ran").exists()
    assert asked == []


def test_dangerous_command_denied_without_an_approver(run_tool, workdir: Path):
    (workdir / "victim").mkdir()
    result = run_tool("terminal", {"command": "rm -r victim"})
    assert "needs approval" in result["error"] and "--yolo" in result["error"]
    assert (workdir / "victim").is_dir()


def test_dangerous_command_runs_when_the_user_approves(run_tool, workdir: Path):
    (workdir / "victim").mkdir()
    asked = []
    result = run_tool("terminal", {"command": "rm -r victim"}, approve=lambda c, r: asked.append((c, r)) or True)
    assert result["exit_code"] == 0 and result["error"] is None
    assert asked == [("rm -r victim", "recursive delete (rm -r)")]
    assert not (workdir / "victim").exists()


def test_dangerous_command_denied_by_the_user(run_tool, workdir: Path):
    (workdir / "victim").mkdir()
    result = run_tool("terminal", {"command": "rm -r victim"}, approve=lambda c, r: False)
    assert "denied" in result["error"]
    assert (workdir / "victim").is_dir()


def test_approver_that_raises_denies(run_tool, workdir: Path):
    (workdir / "victim").mkdir()

    def broken(command: str, reason: str) -> bool:
        raise RuntimeError("no tty")

    assert "asking failed" in run_tool("terminal", {"command": "rm -r victim"}, approve=broken)["error"]
    assert (workdir / "victim").is_dir()


@pytest.mark.parametrize("how", ["ctx", "env"])
def test_yolo_runs_dangerous_commands_without_asking(run_tool, workdir: Path, monkeypatch, how):
    (workdir / "victim").mkdir()
    if how == "env":
        monkeypatch.setenv("HERMES_YOLO", "1")  # read by the settings, handed to the tool in its context
    from agent.settings import default_settings

    mode = default_settings().approvals.mode
    assert mode == ("yolo" if how == "env" else "ask")
    result = run_tool("terminal", {"command": "rm -r victim"}, yolo=how == "ctx", approval_mode=mode)
    assert result["exit_code"] == 0
    assert not (workdir / "victim").exists()


def test_safe_commands_do_not_ask(run_tool, workdir: Path):
    (workdir / "file.txt").write_text("x", encoding="utf-8")
    result = run_tool("terminal", {"command": "rm file.txt && grep -r foo . ; ls -a"}, approve=lambda c, r: False)
    assert result["error"] is None
    assert not (workdir / "file.txt").exists()


def test_schema_is_small():
    size = len(json.dumps(REGISTRY["terminal"].schema()))
    assert size < 700, size
