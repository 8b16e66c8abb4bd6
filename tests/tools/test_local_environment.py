"""LocalEnvironment with real bash: state between calls, exit codes, kills, output handling, cleanup."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
from proc_util import process_alive, read_pids, wait_for

from tools.environments.local import DRAIN_GRACE, LocalEnvironment


@pytest.fixture
def env(workdir: Path):
    environment = LocalEnvironment(cwd=str(workdir), default_timeout=10)
    yield environment
    environment.cleanup()


def test_cwd_and_exports_persist_between_calls(env: LocalEnvironment, workdir: Path):
    first = env.execute("mkdir -p sub && cd sub && export FOO=bar", timeout=30)
    assert first.exit_code == 0
    second = env.execute('pwd; echo "FOO=$FOO"', timeout=30)
    assert second.output.splitlines() == [str(workdir / "sub"), "FOO=bar"]
    assert env.cwd == str(workdir / "sub")


def test_unset_and_cd_dash_persist(env: LocalEnvironment, workdir: Path):
    env.execute("export GONE=1; mkdir -p a; cd a", timeout=30)
    env.execute("unset GONE; cd -", timeout=30)
    out = env.execute('echo "${GONE-unset}"; pwd', timeout=30).output.splitlines()
    assert out == ["unset", str(workdir)]


def test_values_with_newlines_and_quotes_survive(env: LocalEnvironment):
    env.execute("export MULTI=$'line1\\nline \"2\"'", timeout=30)
    assert env.execute('printf "%s" "$MULTI"', timeout=30).output == 'line1\nline "2"'


def test_shell_variables_do_not_drift(env: LocalEnvironment):
    levels = {env.execute("echo $SHLVL", timeout=30).output for _ in range(3)}
    assert len(levels) == 1


def test_exit_codes_and_merged_stderr(env: LocalEnvironment):
    assert env.execute("true", timeout=30).exit_code == 0
    result = env.execute("echo out; echo err >&2; false", timeout=30)
    assert result.exit_code == 1
    assert result.output == "out\nerr\n"


def test_exit_in_command_keeps_code_and_still_saves_state(env: LocalEnvironment, workdir: Path):
    result = env.execute("mkdir -p d; cd d; export AFTER_EXIT=yes; exit 3", timeout=30)
    assert result.exit_code == 3
    assert env.execute("pwd; echo $AFTER_EXIT", timeout=30).output.split() == [str(workdir / "d"), "yes"]


def test_syntax_error_is_reported_not_raised(env: LocalEnvironment):
    result = env.execute("if then fi (", timeout=30)
    assert result.exit_code != 0
    assert "syntax error" in result.output


def test_killed_by_signal_reports_shell_style_code(env: LocalEnvironment):
    assert env.execute("kill -9 $$", timeout=30).exit_code == 137


def test_timeout_kills_the_whole_process_group(env: LocalEnvironment, workdir: Path):
    pids = workdir / "pids"
    start = time.monotonic()
    result = env.execute(f"sleep 100 & echo $! > {pids}; sleep 100 & echo $! >> {pids}; wait", timeout=1)
    elapsed = time.monotonic() - start
    assert result.timed_out and result.exit_code == 124
    assert "timed out after 1 s" in result.output
    assert elapsed < 10  # the 1 s timeout, not the commands' 100 s
    children = read_pids(pids)
    assert len(children) == 2
    assert wait_for(lambda: not any(process_alive(p) for p in children), 10.0)


def test_timeout_escalates_to_sigkill_for_children_ignoring_sigterm(env: LocalEnvironment, workdir: Path):
    pids = workdir / "pids"
    start = time.monotonic()
    result = env.execute(f"(trap '' TERM; exec sleep 100) & echo $! > {pids}; wait", timeout=1)
    assert result.timed_out
    assert time.monotonic() - start < 10  # SIGKILL after the grace, not the child's 100 s
    assert wait_for(lambda: not process_alive(read_pids(pids)[0]), 10.0)


def test_interrupt_kills_promptly(env: LocalEnvironment, workdir: Path):
    event = threading.Event()
    # set once the command runs (an event set before it starts means it never starts)
    threading.Thread(target=lambda: wait_for(lambda: (workdir / "pid").exists(), 20) and event.set(),
                     daemon=True).start()
    start = time.monotonic()
    result = env.execute(f"sleep 30 & echo $! > {workdir / 'pid'}; wait", timeout=20, interrupt=event)
    elapsed = time.monotonic() - start
    assert result.interrupted and not result.timed_out
    assert elapsed < 10  # stopped, not the 30 s the command lasts
    assert "interrupted" in result.output
    assert wait_for(lambda: not process_alive(read_pids(workdir / "pid")[0]), 10.0)


def test_output_truncation_keeps_head_and_tail_with_exact_count(workdir: Path):
    env = LocalEnvironment(cwd=str(workdir), max_output_chars=1000)
    try:
        # 20000 lines of "x" * 9 + "\n" = 200000 characters.
        result = env.execute("for i in $(seq 20000); do echo xxxxxxxxx; done; echo THE-END", timeout=10)
    finally:
        env.cleanup()
    total = 20000 * 10 + len("THE-END\n")
    dropped = total - 1000
    assert result.truncated_chars == dropped
    assert f"[... {dropped} characters truncated ...]" in result.output
    assert result.output.startswith("xxxxxxxxx\n")
    assert result.output.endswith("THE-END\n")
    assert len(result.output) < 1100


def test_max_output_chars_from_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERMINAL_MAX_OUTPUT_CHARS", "500")
    env = LocalEnvironment(cwd=str(workdir))
    try:
        result = env.execute("seq 1 10000", timeout=30)
    finally:
        env.cleanup()
    assert result.truncated_chars > 0
    assert "characters truncated" in result.output


def test_binary_output_comes_back_as_valid_text(env: LocalEnvironment):
    result = env.execute("head -c 3000 /dev/urandom; printf 'a\\0b'", timeout=30)
    assert result.exit_code == 0
    assert "\x00" not in result.output
    result.output.encode("utf-8")  # valid: no lone surrogates
    assert result.output.endswith("ab")


def test_secrets_are_not_visible_to_commands(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123456")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    env = LocalEnvironment(cwd=str(workdir))
    try:
        out = env.execute('echo "[$OPENAI_API_KEY]"; env | grep -c sk-test-secret; echo $HARMLESS_SETTING', timeout=30)
    finally:
        env.cleanup()
    assert out.output.splitlines() == ["[]", "0", "visible"]


def test_stdin_is_empty(env: LocalEnvironment):
    result = env.execute("cat; echo done", timeout=30)
    assert result.output == "done\n"


def test_vanished_cwd_falls_back_with_a_note(env: LocalEnvironment, workdir: Path):
    env.execute("mkdir -p tmpdir && cd tmpdir", timeout=30)
    os.rmdir(workdir / "tmpdir")
    result = env.execute("pwd", timeout=30)
    assert "no longer exists" in result.output
    assert result.output.rstrip().endswith(str(workdir))


def test_command_leaving_a_background_child_returns_and_cleanup_kills_it(workdir: Path):
    env = LocalEnvironment(cwd=str(workdir))
    start = time.monotonic()
    quiet = env.execute(f"sleep 100 >/dev/null 2>&1 & echo $! > {workdir / 'quiet'}", timeout=5)
    noisy = env.execute(f"sleep 100 & echo $! > {workdir / 'noisy'}", timeout=5)
    assert time.monotonic() - start < 4  # neither waited for its child (nor hit the 5 s timeout)
    assert quiet.exit_code == 0 and quiet.output == ""
    assert "still running" in noisy.output
    pids = read_pids(workdir / "quiet") + read_pids(workdir / "noisy")
    assert all(process_alive(p) for p in pids)
    env.cleanup()
    assert wait_for(lambda: not any(process_alive(p) for p in pids), 10.0)


def test_cleanup_removes_only_its_own_state_dir(workdir: Path):
    neighbour = tempfile.mkdtemp(prefix="hermes-env-")  # looks like ours, belongs to "someone else"
    try:
        env = LocalEnvironment(cwd=str(workdir))
        env.execute("true", timeout=30)
        state_dir = env.state_dir
        assert os.path.isdir(state_dir)
        env.cleanup()
        env.cleanup()  # idempotent
        assert not os.path.exists(state_dir)
        assert os.path.isdir(neighbour)
        assert workdir.is_dir()
    finally:
        os.rmdir(neighbour)


def test_background_process_writes_log_and_dies_at_cleanup(workdir: Path):
    env = LocalEnvironment(cwd=str(workdir))
    proc = env.start_background("echo started; exec sleep 100")
    assert wait_for(lambda: "started" in Path(proc.output_file).read_text(encoding="utf-8"))
    assert process_alive(proc.pid)
    env.cleanup()
    assert wait_for(lambda: not process_alive(proc.pid), 10.0)
    assert not os.path.exists(proc.output_file)


def test_commands_too_big_for_argv_still_run(env: LocalEnvironment):
    big = "a" * 300_000  # over Linux's 128 KiB limit for one argument
    result = env.execute(f"export BIG={big}; echo ${{#BIG}}; exit 4", timeout=10)
    assert (result.output, result.exit_code) == ("300000\n", 4)
    assert env.execute("echo ${#BIG}", timeout=30).output == "300000\n"
    # the command file is gone; only the owner record (for reaping after a kill -9) stays
    assert sorted(os.listdir(env.state_dir)) == [".hermes-owner"]


def test_already_interrupted_command_does_not_start(env: LocalEnvironment, workdir: Path):
    event = threading.Event()
    event.set()
    result = env.execute("touch started", timeout=5, interrupt=event)
    assert result.interrupted
    assert not (workdir / "started").exists()


def test_fast_command_returns_fast(env: LocalEnvironment):
    env.execute("true", timeout=30)
    start = time.monotonic()
    for _ in range(20):
        env.execute("sleep 0.01; echo x", timeout=30)
    assert time.monotonic() - start < 20 * DRAIN_GRACE  # no drain grace on ordinary commands


def test_cleanup_from_another_thread_stops_a_running_command(workdir: Path):
    env = LocalEnvironment(cwd=str(workdir))
    results = []
    worker = threading.Thread(target=lambda: results.append(env.execute("sleep 30", timeout=20)))
    worker.start()
    assert wait_for(lambda: bool(env._active))
    start = time.monotonic()
    env.cleanup()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - start < 5
    assert results and results[0].exit_code == 137


def test_a_signal_landing_inside_popen_does_not_leave_the_command_running(env: LocalEnvironment, workdir: Path):
    """Ctrl-C (or SIGTERM's exit) raised in the parent right after the fork, before Popen() returned:
    on a busy machine the command has already started by then, and nothing else could kill it."""
    import sys

    def signal_after_fork(frame, event, arg):
        # Raise where a signal handler's exception would: when Popen's wait for the child's exec
        # (its read of the exec-error pipe) returns, the command is already running.
        if event == "c_return" and arg is os.read and frame.f_code.co_name == "_execute_child":
            sys.setprofile(None)
            raise KeyboardInterrupt

    pid_file = workdir / "pid"
    before = _live_children()  # the suite's own daemons and helpers
    sys.setprofile(signal_after_fork)
    try:
        with pytest.raises(KeyboardInterrupt):
            env.execute(f"echo $$ > {pid_file}; exec sleep 30", timeout=20)
    finally:
        sys.setprofile(None)
    # the command may still have been starting when it was stopped: then it never wrote its pid
    if wait_for(lambda: pid_file.exists() and pid_file.read_text(encoding="utf-8").strip() != "", 1.0):
        assert wait_for(lambda: not process_alive(read_pids(pid_file)[0]), 10.0)
    assert wait_for(lambda: not _live_children() - before, 10.0), "the command is still running"


def _live_children() -> set[int]:
    return {int(p) for p in os.listdir("/proc")
            if p.isdigit() and _parent(int(p)) == os.getpid() and process_alive(int(p))}


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
