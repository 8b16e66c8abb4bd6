"""Shared engine for backends whose bash runs somewhere else: a container, an instance, a host, a sandbox.

Each call starts one client (`docker exec -i`, `ssh`, `apptainer exec`, a Modal exec) running
`bash -c 'eval "$(cat)"'` remotely and writes a *driver* script to its stdin, so nothing of the
command or the environment appears in a local argv. The driver

  * recreates the task's cwd and exported variables (`ShellState.prelude()`, kept locally),
  * runs the command under the same wrapper as the local backend (`shell_state.wrapper_script`),
    in its own process group (`set -m`), with stdout and stderr merged onto stdout,
  * runs a watchdog that kills that process group when the timeout expires, so a timeout kills
    the process where it runs and not just the local client,
  * then prints a marker line (exit code, timed-out flag) and the saved state on stderr.

Locally, stdout goes through the same bounded `OutputCollector` as the local backend, and the
state after the marker updates `ShellState`. Anything on stderr before the marker is a transport
message (the client's own error) and is shown to the model. Interrupts and a stuck transport are
handled from this side by a second call that kills the recorded process group.
"""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from tools.environments.base import Environment, ExecResult
from tools.environments.output import (
    INTERRUPT_EXIT_CODE,
    TIMEOUT_EXIT_CODE,
    OutputCollector,
    configured_max_output_chars,
    note_outcome,
    wait_readable,
)
from tools.environments.shell_state import (
    ShellState,
    export_lines,
    needs_command_file,
    split_oversized,
    wrapper_script,
)
from tools.environments.sudo import password_file_text, sudo_function, uses_sudo

BOOT = 'eval "$(cat)"'  # what the remote bash runs: read the whole driver from stdin, then run it
MARK = b"__HERMES_DRIVER_DONE__"
END = b"__HERMES_DRIVER_END__"  # last thing the driver prints: the call is over even if stdout stays open
TRANSPORT_GRACE = 15.0  # extra seconds the local side waits past the timeout before giving up on the client
DRAIN_GRACE = 0.2  # how long to read after the driver finished while a background child holds stdout
KILL_WAIT = 5.0


class Channel(Protocol):
    """One running client: two readable fds and a process-like lifecycle."""

    stdout_fd: int
    stderr_fd: int

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


class ProcessChannel:
    """A local client process (`docker exec -i`, `ssh`, ...) fed the driver on stdin."""

    def __init__(self, argv: list[str], script: bytes, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True, bufsize=0,
        )
        self.stdout_fd = self.proc.stdout.fileno()
        self.stderr_fd = self.proc.stderr.fileno()
        # A writer thread: a big driver must not block us while the client is slow to read it.
        threading.Thread(target=self._feed, args=(script,), daemon=True).start()

    def _feed(self, script: bytes) -> None:
        try:
            self.proc.stdin.write(script)
        except (BrokenPipeError, OSError):  # the client died first; its stderr says why
            pass
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


def driver_script(
    *, command: str, state: ShellState, state_dir: str, n: int, timeout: float, sudo_file: str | None
) -> str:
    """The script fed to the remote `bash -c 'eval "$(cat)"'` for call number n."""
    q = shlex.quote
    base = f"{state_dir}/{{}}.{n}"
    state_file, pid_file, flag_file = base.format("state"), base.format("pid"), base.format("timedout")
    cmd_file, env_file = base.format("cmd"), base.format("env")
    if sudo_file is not None and uses_sudo(command):
        command = sudo_function(sudo_file) + command
    small, big = split_oversized(state.env)
    lines = [
        "exec 3>&2 2>/dev/null",  # job-control chatter stays out of the marker channel
        f"[ -d {q(state_dir)} ] || mkdir -p {q(state_dir)}",
        export_lines(small).rstrip("\n"),
    ]
    if state.cwd:
        lines.append(
            f"builtin cd -- {q(state.cwd)} || builtin printf "
            f"'[note: working directory %s no longer exists; running in %s]\\n' {q(state.cwd)} \"$PWD\""
        )
    args = [q(wrapper_script(state_file)), "bash"]
    if needs_command_file(command):
        lines.append(f"builtin printf '%s' {q(command)} >{q(cmd_file)}")
        args += ["''", q(cmd_file)]
    else:
        args += [q(command), "''"]
    if big:
        lines.append(f"builtin printf '%s' {q(export_lines(big))} >{q(env_file)}")
        args.append(q(env_file))
    lines += [
        "set -m",  # the command gets its own process group, so the watchdog can kill all of it
        f"bash -c {' '.join(args)} </dev/null 2>&1 3>&- &",
        "__hp=$!",
        f"builtin printf '%s' \"$__hp\" >{q(pid_file)}",
        f"( sleep {max(timeout, 0.1):g}; : >{q(flag_file)}; kill -TERM -- -$__hp; sleep 0.5; kill -KILL -- -$__hp )"
        " </dev/null >/dev/null 2>&1 3>&- &",
        "__hw=$!",
        'wait "$__hp"; __hrc=$?',
        'kill -KILL -- -"$__hw"',
        f"__hto=0; [ -e {q(flag_file)} ] && __hto=1",
        # Does anything the command started live on (`server &`)? Then its output is not captured.
        # Only groups still alive are recorded, for cleanup to kill: fewer chances of a recycled id.
        f'__hbg=0; kill -0 -- -"$__hp" && {{ __hbg=1; builtin printf "%s\\n" "$__hp" >>{q(state_dir + "/pgids")}; }}',
        f"builtin printf '\\n%s %s %s %s\\n' {MARK.decode()} \"$__hrc\" \"$__hto\" \"$__hbg\" >&3",
        f"cat {q(state_file)} >&3",
        f"builtin printf '%s\\n' {END.decode()} >&3",
        f"rm -f {' '.join(q(p) for p in (state_file, state_file + '.names', pid_file, flag_file, cmd_file, env_file))}",
        'exit "$__hrc"',
    ]
    return "\n".join(line for line in lines if line) + "\n"


def kill_script(state_dir: str, n: int) -> str:
    pid_file = shlex.quote(f"{state_dir}/pid.{n}")
    return (
        # An interrupt can come before the driver has written the pid: give it a moment.
        f"for __hi in 1 2 3 4 5 6 7 8 9 10; do [ -s {pid_file} ] && break; sleep 0.1; done\n"
        f"__hp=$(cat {pid_file} 2>/dev/null) || exit 0\n"
        "kill -TERM -- -\"$__hp\" 2>/dev/null; sleep 0.3; kill -KILL -- -\"$__hp\" 2>/dev/null; exit 0\n"
    )


def kill_all_script(state_dir: str) -> str:
    """Kill every process group a driver started in this state dir, then remove the dir (cleanup)."""
    d = shlex.quote(state_dir)
    return (
        f"if [ -f {d}/pgids ]; then while read -r __hp; do kill -KILL -- -\"$__hp\" 2>/dev/null; done <{d}/pgids; fi\n"
        f"rm -rf {d}; exit 0\n"
    )


def run_to_completion(argv: list[str], timeout: float = 60) -> int | None:
    """Run a cleanup command and wait for it even through Ctrl-C: an interrupt during cleanup must not
    leave a container or instance behind. Its own session keeps a terminal's Ctrl-C away from it."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None
    end = time.monotonic() + timeout
    while True:
        try:
            return proc.wait(timeout=max(end - time.monotonic(), 0))
        except KeyboardInterrupt:
            continue
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None


# Runs a background command and then writes its exit status beside its log (the outer bash leads the
# process group, so killing the group kills both).
_RECORD_EXIT = 'bash -c "$1"; echo $? >"$2"'


@dataclass
class RemoteBackgroundProcess:
    """A detached command in a remote environment; `output_file` is a path *there*, not here."""

    pid: int
    output_file: str
    command: str
    env: RemoteShellEnvironment
    killed: bool = False

    @property
    def exit_file(self) -> str:
        return self.output_file + ".exit"  # written by the wrapper when the command ends

    def exit_code(self) -> int | None:
        if self.env._closed:
            return None
        out = self.env.run_raw(f"cat {shlex.quote(self.exit_file)} 2>/dev/null; exit 0\n", timeout=10)[1].strip()
        return int(out) if out.lstrip("-").isdigit() else None

    def running(self) -> bool:
        # Not "the group exists": an exited group can linger as zombies where nothing reaps orphans.
        if self.killed or self.env._closed:
            return False
        script = (f"[ -e {shlex.quote(self.exit_file)} ] || {{ kill -0 -- -{self.pid} 2>/dev/null && echo yes; }}; "
                  "exit 0\n")
        return "yes" in self.env.run_raw(script, timeout=10)[1]

    def kill(self) -> None:
        self.killed = True
        if not self.env._closed:
            self.env.run_raw(f"kill -TERM -- -{self.pid} 2>/dev/null; sleep 0.3; "
                             f"kill -KILL -- -{self.pid} 2>/dev/null; exit 0\n", timeout=10)


class RemoteShellEnvironment(Environment):
    """Base class: subclasses provide `_channel(script)`, `state_dir`, and `cleanup()`."""

    backend = "remote"
    state_dir = "/tmp/.hermes"
    has_raw_channel = True

    def __init__(self, *, cwd: str = "", default_timeout: float = 60, max_output_chars: int | None = None,
                 sudo_password: str | None = None) -> None:
        self.state = ShellState(cwd=cwd)
        self.default_timeout = default_timeout
        self.max_output_chars = max_output_chars or configured_max_output_chars()
        self._sudo_password = sudo_password
        self._sudo_written = False
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def cwd(self) -> str:
        return self.state.cwd

    # -- hooks ------------------------------------------------------------------------------------

    def _channel(self, script: bytes) -> Channel:
        raise NotImplementedError

    def _retry_after_failure(self, diagnostics: str) -> bool:
        """Called when the client failed before the driver ran; True means 'reconnected, try again'."""
        return False

    # -- running ----------------------------------------------------------------------------------

    def run_raw(self, script: str, timeout: float = 30) -> tuple[int, str, str]:
        """Run a plain script remotely (no state, no wrapper): (exit code, stdout, stderr).

        The script runs in a subshell followed by an end marker on stderr, because `docker exec -i`
        can hold stdout open for seconds after the process is gone. The file tools' reads and writes
        come this way: each counts as a command for the idle reaper.
        """
        with self.activity.command():
            return self._run_raw(script, timeout)

    def _run_raw(self, script: str, timeout: float) -> tuple[int, str, str]:
        wrapped = f"(\n{script}\n)\n__hrc=$?\nbuiltin printf '\\n%s %s\\n' {END.decode()} \"$__hrc\" >&2\nexit $__hrc\n"
        channel = self._channel(wrapped.encode("utf-8", errors="surrogateescape"))
        out, err = bytearray(), bytearray()
        fds = [channel.stdout_fd, channel.stderr_fd]
        deadline = time.monotonic() + timeout
        code: int | None = None
        try:
            while fds and time.monotonic() < deadline:
                if code is None and err.endswith(b"\n") and END in err:
                    tail = err[err.rindex(END) + len(END):].strip()
                    code = int(tail) if tail.lstrip(b"-").isdigit() else -1
                    del err[err.rindex(b"\n" + END):]
                    deadline = min(deadline, time.monotonic() + DRAIN_GRACE)
                for fd in wait_readable(fds, deadline - time.monotonic()):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        fds.remove(fd)
                    else:
                        (out if fd == channel.stdout_fd else err).extend(chunk)
            if code is None:
                end = time.monotonic() + 2
                while channel.poll() is None and time.monotonic() < end:
                    time.sleep(0.01)
                code = channel.poll()
        finally:
            channel.close()
        return (code if code is not None else -1), out.decode(errors="replace"), err.decode(errors="replace")

    def execute(
        self, command: str, *, timeout: float | None = None, interrupt: threading.Event | None = None
    ) -> ExecResult:
        if self._closed:
            raise RuntimeError("environment has been cleaned up")
        timeout = self.default_timeout if timeout is None else timeout
        if interrupt is not None and interrupt.is_set():
            return ExecResult("[command not started: interrupted]", INTERRUPT_EXIT_CODE, interrupted=True)
        with self.activity.command():  # the idle reaper waits, and counts idle time from the end
            for attempt in (1, 2):
                result, diagnostics = self._execute_once(command, timeout, interrupt)
                if result is not None:
                    return result
                if attempt == 1 and self._retry_after_failure(diagnostics):
                    continue
                text = diagnostics.strip() or "the client failed"
                return ExecResult(f"[{self.backend} backend error] {text}", 255)
            raise AssertionError("unreachable")

    def set_sudo_password(self, password: str) -> None:
        self._sudo_password = password
        self._sudo_written = False

    def _sudo_file(self) -> str | None:
        if not self._sudo_password:
            return None
        path = f"{self.state_dir}/sudo"
        if not self._sudo_written:
            text = shlex.quote(password_file_text(self._sudo_password))
            # printf is a builtin: the password goes through the driver on stdin, never an argv.
            self.run_raw(f"mkdir -p {shlex.quote(self.state_dir)}; (umask 077; builtin printf '%s' {text}"
                         f" >{shlex.quote(path)})\n")
            self._sudo_written = True
        return path

    def start_background(self, command: str) -> RemoteBackgroundProcess:
        """Start `command` detached in its own process group, output to a log file in the state dir."""
        if self._closed:
            raise RuntimeError("environment has been cleaned up")
        n = next(self._counter)
        q = shlex.quote
        log = f"{self.state_dir}/bg-{n}.log"
        if uses_sudo(command) and self._sudo_password:
            command = sudo_function(self._sudo_file() or "") + command
        with self._lock:
            prelude = self.state.prelude() if self.state.cwd else export_lines(self.state.env)
        script = (f"[ -d {q(self.state_dir)} ] || mkdir -p {q(self.state_dir)}\n{prelude}set -m\n"
                  f"bash -c {q(_RECORD_EXIT)} _ {q(command)} {q(log + '.exit')}"
                  f" >{q(log)} 2>&1 </dev/null &\n"
                  f"builtin printf '%s\\n' \"$!\" >>{q(self.state_dir + '/pgids')}; echo \"$!\"\n")
        code, out, err = self.run_raw(script, timeout=30)
        pid = out.strip().splitlines()[-1] if out.strip() else ""
        if code != 0 or not pid.isdigit():
            raise OSError(f"could not start the background command: {err.strip() or out.strip() or code}")
        return RemoteBackgroundProcess(pid=int(pid), output_file=log, command=command, env=self)

    def _execute_once(
        self, command: str, timeout: float, interrupt: threading.Event | None
    ) -> tuple[ExecResult | None, str]:
        n = next(self._counter)
        sudo_file = self._sudo_file() if uses_sudo(command) else None
        with self._lock:
            script = driver_script(command=command, state=self.state, state_dir=self.state_dir, n=n,
                                   timeout=timeout, sudo_file=sudo_file)
        channel = self._channel(script.encode("utf-8", errors="surrogateescape"))
        collector = OutputCollector(self.max_output_chars)
        err = bytearray()
        open_fds = [channel.stdout_fd, channel.stderr_fd]
        local_deadline = time.monotonic() + timeout + TRANSPORT_GRACE
        drain_deadline: float | None = None
        outcome = "done"
        try:
            while open_fds:
                now = time.monotonic()
                if interrupt is not None and interrupt.is_set() and outcome == "done":
                    outcome = "interrupted"
                    self._kill_remote(n)
                    local_deadline = min(local_deadline, now + KILL_WAIT)
                if now >= local_deadline:
                    if outcome == "done":
                        outcome = "stuck"
                        self._kill_remote(n)
                    break
                if drain_deadline is None and (channel.stderr_fd not in open_fds or err.endswith(END + b"\n")):
                    drain_deadline = now + DRAIN_GRACE  # the driver is done; stdout may be held by a child
                if drain_deadline is not None and now >= drain_deadline:
                    break  # docker's `exec -i` can hold stdout open for seconds after the process is gone
                wait = min(local_deadline, drain_deadline or local_deadline) - now
                for fd in wait_readable(open_fds, min(wait, 0.05 if interrupt is not None else wait)):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        open_fds.remove(fd)
                    elif fd == channel.stdout_fd:
                        collector.feed(chunk)
                    else:
                        err.extend(chunk)
        except BaseException:
            self._kill_remote(n)
            raise
        finally:
            channel.close()
        diagnostics, sep, tail = bytes(err).partition(b"\n" + MARK)
        if not sep:
            if outcome in ("interrupted", "stuck"):
                return self._finish(collector, outcome, TIMEOUT_EXIT_CODE, timeout, diagnostics), ""
            if collector.total == 0:
                return None, diagnostics.decode(errors="replace")
            collector.feed(b"\n" + diagnostics)
            return self._finish(collector, "done", channel.poll() or 255, timeout, b""), ""
        header, _, state_bytes = tail.removesuffix(END + b"\n").partition(b"\n")
        fields = header.split()
        exit_code = int(fields[0]) if fields and fields[0].lstrip(b"-").isdigit() else 255
        if len(fields) > 1 and fields[1] == b"1" and outcome == "done":
            outcome = "timeout"
        if len(fields) > 2 and fields[2] == b"1" and outcome == "done":
            outcome = "lingering"
        with self._lock:
            self.state.load(state_bytes)
        return self._finish(collector, outcome, exit_code, timeout, diagnostics), ""

    @staticmethod
    def _finish(collector: OutputCollector, outcome: str, exit_code: int, timeout: float,
                diagnostics: bytes) -> ExecResult:
        if diagnostics.strip():
            collector.feed(b"\n" + diagnostics.strip())
        exit_code = note_outcome(collector, outcome, exit_code, timeout)
        collector.finish()
        return ExecResult(
            output=collector.text(), exit_code=exit_code, timed_out=outcome in ("timeout", "stuck"),
            interrupted=outcome == "interrupted", truncated_chars=collector.dropped,
        )

    def _kill_remote(self, n: int) -> None:
        try:
            self.run_raw(kill_script(self.state_dir, n), timeout=KILL_WAIT)
        except Exception:  # best effort: the client is killed locally anyway
            pass
