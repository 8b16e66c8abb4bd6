"""Run commands on this machine: one `bash` per call, its own process group, state kept in a temp dir.

    env = LocalEnvironment(cwd="/repo")
    env.execute("cd src && export FOO=1", timeout=60)
    env.execute("pwd; echo $FOO", timeout=60)   # -> /repo/src, 1
    env.cleanup()                                # kills leftovers, removes the private state dir

Every command's bash is a session and process-group leader (`start_new_session`), so a timeout or
an interrupt kills everything it started. A group that outlives its command (`server &`) is
recorded and killed at cleanup; its leader is kept unreaped (a zombie) until then so the group id
cannot be recycled for somebody else's processes in the meantime.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.environments import reaper
from tools.environments.base import Environment, ExecResult
from tools.environments.env_policy import command_environ
from tools.environments.output import (
    INTERRUPT_EXIT_CODE,
    OutputCollector,
    configured_max_output_chars,
    note_outcome,
    wait_readable,
)
from tools.environments.sandbox import Sandbox, looks_blocked
from tools.environments.shell_state import (
    ShellState,
    bash_argv,
    export_lines,
    needs_command_file,
    split_oversized,
)
from tools.environments.sudo import password_file_text, sudo_function, uses_sudo

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 0.2  # how long to keep reading after bash exits while a background child holds the pipe
INTERRUPT_POLL = 0.05
# A lone `&` (not `&&`, `>&`, `&>`, `|&`): the command may leave processes running after it returns.
_BACKGROUNDS = re.compile(r"(?<![&>|])&(?![&>])|\bnohup\b|\bdisown\b")


# -- process-group helpers (no reaping unless said so) ----------------------------------------------

def kill_group(pgid: int, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def exit_status(proc: subprocess.Popen) -> int | None:
    """Shell-style exit code (128+N for signal N) once the process has exited, without reaping it."""
    code = proc.returncode
    if code is None:
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return -1
        if info is None:
            return None
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
    return 128 - code if code < 0 else code


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group other than its leader (reads /proc; call sparingly)."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == pgid:
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(name))
    return members


def stop_group(proc: subprocess.Popen, grace: float = KILL_GRACE) -> None:
    """SIGTERM the group led by `proc`, SIGKILL it after `grace` if the leader is still up, then reap.

    The leader is reaped only after the last signal, so the group id still belongs to us when sent.
    """
    kill_group(proc.pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while exit_status(proc) is None and time.monotonic() < end:
        time.sleep(0.01)
    kill_group(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclass
class BackgroundProcess:
    pid: int
    output_file: str
    command: str
    popen: subprocess.Popen

    def running(self) -> bool:
        return exit_status(self.popen) is None

    def exit_code(self) -> int | None:
        return exit_status(self.popen)

    def kill(self) -> None:
        if self.popen.returncode is None:
            stop_group(self.popen)


def _remove_quiet(path: str) -> None:
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:  # cleanup() from another thread may have removed the state dir
        pass


class LocalEnvironment(Environment):
    backend = "local"

    def __init__(
        self,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        default_timeout: float = 60,
        max_output_chars: int | None = None,
        sudo_password: str | None = None,
        settings: TerminalSettings | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        # `sandbox` is made from settings.sandbox / sandbox_network by the manager (None: unconfined)
        self.settings = settings
        env_passthrough = tuple(settings.env_passthrough) if settings is not None else ()
        self.initial_cwd = os.path.abspath(cwd or os.getcwd())
        # The documented policy (env_policy.py): inherit minus secrets, plus terminal.env_passthrough.
        base = command_environ(env_passthrough)
        if env:
            base.update(env)
        self.state = ShellState(cwd=self.initial_cwd, env=base)
        self.default_timeout = default_timeout
        self.max_output_chars = max_output_chars or configured_max_output_chars()
        self.state_dir = tempfile.mkdtemp(prefix="hermes-env-")
        reaper.mark_dir(self.state_dir)
        reaper.reap_temp_dirs()  # what a `kill -9`ed hermes left (owner record, dead owner only)
        self._bash = shutil.which("bash", path=base.get("PATH")) or "/bin/bash"
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._active: set[subprocess.Popen] = set()  # commands running right now (any thread)
        self._lingering: list[subprocess.Popen] = []  # finished commands whose group lives on
        self.background: list[BackgroundProcess] = []
        self._closed = False
        self._sudo_password = sudo_password
        self.sandbox = sandbox  # None: commands run unconfined (terminal.sandbox off or bwrap unusable)

    @property
    def cwd(self) -> str:
        return self.state.cwd

    def _start_cwd(self) -> tuple[str, str]:
        """The directory the next command starts in, and a note if the saved one has vanished."""
        cwd = self.state.cwd
        if os.path.isdir(cwd):
            return cwd, ""
        fallback = self.initial_cwd if os.path.isdir(self.initial_cwd) else "/"
        return fallback, f"[note: working directory {cwd} no longer exists; running in {fallback}]\n"

    def _snapshot_env(self, cwd: str) -> dict[str, str]:
        with self._lock:
            env = dict(self.state.env)
        env["PWD"] = cwd
        return env

    # -- running commands -------------------------------------------------------------------------

    def execute(
        self, command: str, *, timeout: float | None = None, interrupt: threading.Event | None = None,
        sandboxed: bool = True, sandbox_mode: str | None = None,
    ) -> ExecResult:
        """Run one command; `sandboxed=False` runs it outside the OS sandbox (only after the approval
        gate said so: see tools/terminal_tool.py); `sandbox_mode="read-only"` tightens it for this
        command (approval mode read-only). The idle reaper leaves the environment alone meanwhile and
        counts idle time from its end (base.Activity)."""
        with self.activity.command():
            return self._execute(command, timeout, interrupt, sandboxed, sandbox_mode)

    def _execute(self, command: str, timeout: float | None, interrupt: threading.Event | None,
                 sandboxed: bool, sandbox_mode: str | None) -> ExecResult:
        if self._closed:
            raise RuntimeError("environment has been cleaned up")
        timeout = self.default_timeout if timeout is None else timeout
        if interrupt is not None and interrupt.is_set():
            return ExecResult("[command not started: interrupted]", INTERRUPT_EXIT_CODE, interrupted=True)
        n = next(self._counter)
        state_file = os.path.join(self.state_dir, f"state.{n}")
        cwd, note = self._start_cwd()
        if self._sudo_password and uses_sudo(command):
            command = self._with_sudo(command)
        env, oversized = split_oversized(self._snapshot_env(cwd))
        command_file = self._write_temp(f"cmd.{n}.sh", command) if needs_command_file(command) else None
        prelude_file = self._write_temp(f"env.{n}.sh", export_lines(oversized)) if oversized else None
        collector = OutputCollector(self.max_output_chars)
        if note:
            collector.feed(note.encode())
        argv = bash_argv(command, state_file, self._bash, command_file, prelude_file)
        box = self.sandbox if sandboxed else None
        watched = box.missing_frozen(sandbox_mode) if box is not None else []
        # A Ctrl-C or SIGTERM handler can raise inside Popen() after the fork (on a busy machine
        # even after the command has started), and a Popen that never returned cannot be killed:
        # the object is made first, so whatever raises, the command's group is stopped.
        proc = subprocess.Popen.__new__(subprocess.Popen)
        try:
            with self._launch(box, argv, cwd, sandbox_mode) as (argv, fds):
                proc.__init__(  # type: ignore[misc]
                    argv,
                    pass_fds=fds,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    bufsize=0,
                )
            self._active.add(proc)
            try:
                outcome, exit_code = self._pump(proc, collector, timeout, interrupt)
            finally:
                self._active.discard(proc)
                proc.stdout.close()
        except BaseException:
            if getattr(proc, "pid", None) is not None and proc.returncode is None:
                stop_group(proc, grace=0.1)
            raise
        finally:
            for path in (command_file, prelude_file):
                if path:
                    _unlink_quiet(path)
        if outcome == "done" and _BACKGROUNDS.search(command) and group_members(proc.pid):
            outcome = "lingering-quiet"
        if outcome.startswith("lingering"):
            self._lingering.append(proc)  # left unreaped on purpose: see the module docstring
        elif proc.returncode is None:
            proc.wait()
        exit_code = note_outcome(collector, outcome, exit_code, timeout)
        self._load_state(state_file)
        for path in watched:  # protected files bwrap could not freeze because they did not exist yet
            if os.path.lexists(path):
                _remove_quiet(path)
                collector.feed(f"\n[sandbox: {path} is protected; the file the command created was removed]\n".encode())
                exit_code = exit_code or 1
        collector.finish()
        output = collector.text()
        return ExecResult(
            output=output,
            exit_code=exit_code,
            timed_out=outcome == "timeout",
            interrupted=outcome == "interrupted",
            truncated_chars=collector.dropped,  # in characters, matching the note in the output
            sandbox_blocked=box is not None and (bool(watched) and "[sandbox: " in output
                                                 or looks_blocked(output)),
        )

    def _launch(self, box: Sandbox | None, argv: list[str], cwd: str, mode: str | None = None):
        """`with` it: (argv, pass_fds) to Popen the command with, inside the sandbox `box` if any."""
        if box is None:
            return contextlib.nullcontext((argv, ()))
        return box.command(argv, self.state_dir, mode, cwd)

    def _pump(
        self,
        proc: subprocess.Popen,
        collector: OutputCollector,
        timeout: float,
        interrupt: threading.Event | None,
    ) -> tuple[str, int]:
        """Read output until bash exits and the pipe closes; kill the group on timeout/interrupt.

        Returns (outcome, exit code); bash is left unreaped except after a kill.
        """
        out_fd = proc.stdout.fileno()
        try:
            pid_fd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            pid_fd = None
        deadline = time.monotonic() + timeout
        drain_deadline: float | None = None
        pipe_open = True
        code: int | None = None
        try:
            while True:
                now = time.monotonic()
                if interrupt is not None and interrupt.is_set():
                    return self._kill(proc, out_fd if pipe_open else None, collector, "interrupted")
                if now >= deadline:
                    return self._kill(proc, out_fd if pipe_open else None, collector, "timeout")
                if code is not None:
                    if not pipe_open:
                        return "done", code
                    if drain_deadline is None:
                        drain_deadline = now + DRAIN_GRACE  # a background child still holds the pipe
                    elif now >= drain_deadline:
                        return "lingering", code
                wait = deadline - now
                if drain_deadline is not None:
                    wait = min(wait, drain_deadline - now)
                if interrupt is not None or pid_fd is None:
                    wait = min(wait, INTERRUPT_POLL)
                fds = ([out_fd] if pipe_open else []) + ([pid_fd] if pid_fd is not None and code is None else [])
                ready = wait_readable(fds, wait)
                if out_fd in ready:
                    chunk = os.read(out_fd, 65536)
                    if chunk:
                        collector.feed(chunk)
                    else:
                        pipe_open = False
                if code is None and (pid_fd is None or pid_fd in ready):
                    code = exit_status(proc)
        except BaseException:  # KeyboardInterrupt, SystemExit...: never leave the command running
            stop_group(proc, grace=0.1)
            raise
        finally:
            if pid_fd is not None:
                os.close(pid_fd)

    @staticmethod
    def _kill(proc: subprocess.Popen, out_fd: int | None, collector: OutputCollector, why: str) -> tuple[str, int]:
        """SIGTERM the group, keep reading while it winds down (up to a grace), SIGKILL, reap."""
        kill_group(proc.pid, signal.SIGTERM)
        end = time.monotonic() + KILL_GRACE
        while time.monotonic() < end:
            if out_fd is None:
                if exit_status(proc) is not None:
                    break
                time.sleep(0.01)
                continue
            if out_fd in wait_readable([out_fd], min(0.05, end - time.monotonic())):
                chunk = os.read(out_fd, 65536)
                if chunk:
                    collector.feed(chunk)
                else:
                    out_fd = None  # every process holding the pipe is gone
        # Anything that ignored SIGTERM goes now; bash is not reaped yet, so the group id is still ours.
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return why, proc.returncode

    def set_sudo_password(self, password: str) -> None:
        self._sudo_password = password
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.state_dir, "sudo"))  # rewritten with the new one on next use

    def _with_sudo(self, command: str) -> str:
        """Define `sudo` to read SUDO_PASSWORD from a private 0600 file (see sudo.py); never in argv."""
        path = os.path.join(self.state_dir, "sudo")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(password_file_text(self._sudo_password or ""))
        return sudo_function(path) + command

    def _write_temp(self, name: str, text: str) -> str:
        path = os.path.join(self.state_dir, name)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
        return path

    def _load_state(self, state_file: str) -> None:
        try:
            with open(state_file, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return
        finally:
            _unlink_quiet(state_file)
            _unlink_quiet(state_file + ".names")
        with self._lock:
            self.state.load(data)

    # -- background commands ----------------------------------------------------------------------

    def start_background(self, command: str) -> BackgroundProcess:
        """Start `command` detached (own process group), output to a log file in the state dir."""
        if self._closed:
            raise RuntimeError("environment has been cleaned up")
        n = next(self._counter)
        output_file = os.path.join(self.state_dir, f"bg-{n}.log")
        cwd, _ = self._start_cwd()
        env, oversized = split_oversized(self._snapshot_env(cwd))
        script = export_lines(oversized) + command
        argv = [self._bash, "-c", script] if not needs_command_file(script) else [
            self._bash, self._write_temp(f"bg-{n}.sh", script)]
        with open(output_file, "wb") as log, self._launch(self.sandbox, argv, cwd) as (argv, fds):
            popen = subprocess.Popen(
                argv,
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        proc = BackgroundProcess(pid=popen.pid, output_file=output_file, command=command, popen=popen)
        self.background.append(proc)
        return proc

    # -- teardown ---------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Kill what this environment started and remove its own state dir (nothing else)."""
        if self._closed:
            return
        self._closed = True
        for running in list(self._active):
            kill_group(running.pid, signal.SIGKILL)  # the executing thread reaps it
        for proc in self.background:
            proc.kill()
        lingering, self._lingering = self._lingering, []
        for proc in lingering:
            kill_group(proc.pid, signal.SIGTERM)
        if lingering:
            time.sleep(0.05)
        for proc in lingering:
            kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
        if self.sandbox is not None:
            self.sandbox.close()  # whatever is still running inside dies with the sandbox's pid namespace
        shutil.rmtree(self.state_dir, ignore_errors=True)
