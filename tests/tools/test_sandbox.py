"""The bubblewrap sandbox for real: what a sandboxed command can see, write and leave behind."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from proc_util import process_alive, wait_for

from tools.environments import sandbox as sb
from tools.environments.local import LocalEnvironment

pytestmark = pytest.mark.skipif(sb.probe() is not None, reason=f"bubblewrap unusable here: {sb.probe()}")


def host_pids(marker: str) -> list[int]:
    """Host pids of processes whose command line contains `marker` (`$!` inside is a sandbox pid)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and process_alive(int(name)):
                pids.append(int(name))
    return pids


@pytest.fixture(autouse=True, params=["joined", "bwrap-per-command"])
def spawn(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: commands entering namespaces built once (nsenter), and the fallback where
    bwrap builds them per command (no util-linux 2.38 nsenter)."""
    if request.param == "joined":
        if sb.sandbox_ns.joiner() is None:
            pytest.skip("no nsenter with --wdns (util-linux >= 2.38) here")
    else:
        monkeypatch.setattr(sb.sandbox_ns, "joiner", lambda: None)
    return request.param


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home, hh, ws, tmp, outside = (tmp_path / n for n in ("home", "hermes", "ws", "tmp", "outside"))
    for d in (home, hh / "skills" / "demo", ws / ".git" / "hooks", tmp, outside):
        d.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (hh / ".env").write_text("OPENAI_API_KEY=sk-hidden-0123456789\n")
    (hh / "skills" / "demo" / "SKILL.md").write_text("# demo skill\n")
    (ws / ".env").write_text("OPENAI_API_KEY=sk-hidden-0123456789\n")
    (ws / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    (home / ".bashrc").write_text("# rc\n")
    return {"home": home, "hh": hh, "ws": ws, "tmp": tmp, "outside": outside}


def make_env(layout: dict[str, Path], mode: str = sb.WORKSPACE_WRITE, network: bool = True) -> LocalEnvironment:
    spec = sb.spec_for(mode, str(layout["ws"]), network=network, hermes_home=str(layout["hh"]),
                       hermes_cwd=str(layout["ws"]))
    spec = sb.SandboxSpec(**{**spec.__dict__, "temp_dir": str(layout["tmp"])})
    return LocalEnvironment(cwd=str(layout["ws"]), default_timeout=10, sandbox=sb.Sandbox(spec))


@pytest.fixture
def env(layout):
    environment = make_env(layout)
    yield environment
    environment.cleanup()


def test_state_persists_and_the_workspace_is_writable(env: LocalEnvironment, layout) -> None:
    assert env.execute("mkdir -p sub && cd sub && export FOO=bar && echo hi > f", timeout=30).exit_code == 0
    assert env.execute('pwd; echo "$FOO"; cat f', timeout=30).output.split() == [str(layout["ws"] / "sub"), "bar", "hi"]
    assert (layout["ws"] / "sub" / "f").read_text() == "hi\n"
    assert env.execute(f"echo t > {layout['tmp']}/t && cat {layout['tmp']}/t", timeout=30).output == "t\n"


def test_writes_outside_are_refused_and_flagged(env: LocalEnvironment, layout) -> None:
    for command in (f"echo x > {layout['outside']}/f", "echo x >> ~/.bashrc", "echo x > .git/hooks/pre-commit",
                    "echo HERMES_YOLO=1 >> .env"):
        result = env.execute(command, timeout=30)
        assert result.exit_code != 0 and result.sandbox_blocked, (command, result)
        assert "Read-only file system" in result.output
    assert not (layout["outside"] / "f").exists()
    assert (layout["home"] / ".bashrc").read_text() == "# rc\n"
    assert (layout["ws"] / ".env").read_text().startswith("OPENAI_API_KEY")
    assert env.execute("echo outside the sandbox > ok", timeout=30, sandboxed=False).exit_code == 0


def test_a_protected_file_created_by_a_command_is_removed(env: LocalEnvironment, layout) -> None:
    (layout["ws"] / ".env").unlink()
    result = env.execute("echo HERMES_YOLO=1 > cli-config.yaml; echo HERMES_YOLO=1 > .env", timeout=30)
    assert result.sandbox_blocked and "is protected" in result.output
    assert not (layout["ws"] / ".env").exists() and not (layout["ws"] / "cli-config.yaml").exists()


def test_hermes_and_its_credentials_are_invisible(env: LocalEnvironment, layout) -> None:
    out = env.execute(f"ls {layout['hh']}; cat {layout['hh']}/skills/demo/SKILL.md; cat .env; "
                      "cat /proc/$PPID/environ; ls /proc | grep -c '^[0-9]'", timeout=30).output
    assert "sk-hidden" not in out
    assert "# demo skill" in out  # skills stay readable
    assert str(os.getpid()) not in env.execute("ls /proc", timeout=30).output.split()
    count = int(out.split()[-1])
    assert count < 10, out  # only the sandbox's own processes


def test_background_children_outlive_their_command_and_die_at_cleanup(layout) -> None:
    env = make_env(layout)
    quiet = env.execute("sleep 731.5 >/dev/null 2>&1 &", timeout=30)
    assert quiet.exit_code == 0
    assert wait_for(lambda: bool(host_pids("sleep 731.5")))
    assert "sleep 731.5" in env.execute("ps -eo args", timeout=30).output  # later commands see it
    bg = env.start_background("echo started; exec sleep 732.5")
    assert wait_for(lambda: "started" in Path(bg.output_file).read_text(encoding="utf-8"))
    pids = host_pids("sleep 731.5") + host_pids("sleep 732.5")
    env.cleanup()
    assert wait_for(lambda: not any(process_alive(p) for p in pids), 10.0)


def test_timeout_and_interrupt_kill_the_group(env: LocalEnvironment) -> None:
    start = time.monotonic()
    result = env.execute("sleep 733.5; echo never", timeout=1)
    assert result.timed_out and "never" not in result.output
    assert wait_for(lambda: not host_pids("sleep 733.5"), 10.0)
    event = threading.Event()
    threading.Timer(0.2, event.set).start()
    assert env.execute("sleep 734.5", timeout=20, interrupt=event).interrupted
    assert time.monotonic() - start < 5
    assert wait_for(lambda: not host_pids("sleep 734.5"), 10.0)


@pytest.mark.parametrize("network", [True, False])
def test_network_setting(layout, network: bool) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    env = make_env(layout, network=network)
    try:
        result = env.execute(f"echo hi > /dev/tcp/127.0.0.1/{port} && echo connected", timeout=30)
    finally:
        env.cleanup()
        server.close()
    assert ("connected" in result.output) is network, result.output


def test_read_only_mode_keeps_the_workspace_read_only(layout) -> None:
    env = make_env(layout, mode=sb.READ_ONLY)
    try:
        result = env.execute("cat .git/hooks/pre-commit >/dev/null && echo x > new.txt", timeout=30)
        assert result.sandbox_blocked and not (layout["ws"] / "new.txt").exists()
        assert env.execute("cd /tmp && echo scratch > s && cat s && cd - >/dev/null && export K=v", timeout=30).output == "scratch\n"
        assert env.execute("echo $K; pwd", timeout=30).output.split() == ["v", str(layout["ws"])]
    finally:
        env.cleanup()


def test_status_line_and_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.settings import TerminalSettings

    assert sb.status_line(TerminalSettings()).startswith("workspace-write (bubblewrap")
    assert "network off" in sb.status_line(TerminalSettings(sandbox_network=False))
    assert sb.status_line(TerminalSettings(sandbox=sb.OFF)).startswith("off (terminal.sandbox: off)")
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without bubblewrap: no bwrap on PATH
    sb.probe.cache_clear()
    try:
        line = sb.status_line(TerminalSettings())
        assert line.startswith("off: bubblewrap (bwrap) is not installed") and "unconfined" in line
        assert sb.make_sandbox(TerminalSettings(), "/") is None
    finally:
        sb.probe.cache_clear()
    with pytest.raises(ValueError, match="off, read-only, workspace-write"):
        sb.parse_mode("strict")


def test_probe_reports_a_broken_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    sb.probe.cache_clear()
    try:
        assert sb.probe() == "bubblewrap cannot create namespaces here (bwrap: No permissions to creating new namespace)"
    finally:
        sb.probe.cache_clear()


def test_one_command_can_be_made_read_only(env: LocalEnvironment, layout) -> None:
    """Approval mode read-only (plan) runs commands in a read-only sandbox whatever terminal.sandbox says."""
    result = env.execute("echo x > plan.txt", timeout=30, sandbox_mode=sb.READ_ONLY)
    assert result.sandbox_blocked and not (layout["ws"] / "plan.txt").exists()
    assert env.execute("echo x > plan.txt", timeout=30).exit_code == 0


def test_protected_paths_that_appear_after_the_first_command_are_protected(env: LocalEnvironment, layout) -> None:
    """The mounts are built once per environment: a .git/hooks, .git/config or credential file that
    appears (or is replaced) later, outside the sandbox, must be read-only / masked all the same."""
    import shutil

    ws = layout["ws"]
    shutil.rmtree(ws / ".git")
    (ws / ".env").unlink()
    assert env.execute("true", timeout=30).exit_code == 0  # the sandbox is built without them
    (ws / ".git" / "hooks").mkdir(parents=True)  # e.g. an approved `git init` outside the sandbox
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".env").write_text("OPENAI_API_KEY=sk-late-0123456789\n")
    for command in ("echo x > .git/hooks/pre-commit", "echo '[core] hooksPath=/tmp' >> .git/config"):
        result = env.execute(command, timeout=30)
        assert result.sandbox_blocked and "Read-only file system" in result.output, (command, result)
    assert "sk-late" not in env.execute("cat .env", timeout=30).output
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    # replaced outside between two commands (the old bind mount went with the old directory)
    shutil.rmtree(ws / ".git" / "hooks")
    (ws / ".git" / "hooks").mkdir()
    (ws / ".env").unlink()
    (ws / ".env").write_text("OPENAI_API_KEY=sk-again-0123456789\n")
    result = env.execute("echo x > .git/hooks/pre-commit; cat .env", timeout=30)
    assert result.sandbox_blocked and "sk-again" not in result.output, result
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()


def test_a_hidden_working_directory_falls_back_to_home(env: LocalEnvironment, layout) -> None:
    (layout["hh"] / "sessions").mkdir()
    assert env.execute(f"cd {layout['hh']}/sessions", timeout=30, sandboxed=False).exit_code == 0
    assert env.execute("pwd", timeout=30).output.strip() == str(layout["home"])


def test_read_only_commands_keep_their_private_tmp_as_working_directory(layout) -> None:
    env = make_env(layout, mode=sb.READ_ONLY)
    try:
        assert env.execute("cd /tmp", timeout=30).exit_code == 0
        assert env.execute("pwd", timeout=30).output.strip() == "/tmp"
    finally:
        env.cleanup()
