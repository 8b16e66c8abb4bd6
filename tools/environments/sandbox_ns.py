"""The namespaces a sandboxed command enters, built once instead of by a bwrap per command.

A bwrap per command spends ~10 ms of CPU, most of it building the mount namespace (the binds, a
fresh /dev and /proc). Instead the environment's holder (a bwrap that stays up, `start_holder`)
builds the mounts once, hermes keeps a file descriptor for each of its namespaces, and every command
enters them with util-linux (`join_argv`):

    nsenter [--user=FD --preserve-credentials] --mount=FD --pid=FD [--net=FD] --wdns=CWD --
        setpriv --no-new-privs [--inh-caps=-all --ambient-caps=-all --bounding-set=-all] -- bash ...

What bwrap guaranteed per command, and how it still holds:
  - no capabilities (non-root): entering the user namespace grants all of them in it; setpriv empties
    the bounding, inheritable and ambient sets before bash, so execve leaves none (uid 0 in the
    namespace as before, with nothing). The mounts cannot be undone from inside. As root, bwrap kept
    root's capabilities, and so does this.
  - no new privileges (setuid binaries, file capabilities): `setpriv --no-new-privs`.
  - the working directory is resolved inside the sandbox (`--wdns`; `--wd` opens it outside first,
    a door out of the mount namespace, so it is never used). nsenter older than util-linux 2.38 has
    no --wdns: `joiner()` says None and the sandbox falls back to a bwrap per command.
  - nsenter forks after entering the pid namespace; its child (the command) is in the process group
    hermes signals, its exit code or signal is passed on, and it dies with the environment's pid
    namespace when hermes goes (the holder has --die-with-parent).
  - file descriptors are hermes' own, never a pid that could be recycled for someone else's process.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess

READY = b"ready\n"
# The holder's command: say the sandbox is set up, then wait to be killed.
HOLDER_COMMAND = ["sh", "-c", "echo ready; exec sleep infinity"]


@functools.cache
def joiner() -> tuple[str, str] | None:
    """(nsenter, setpriv) when they can enter a sandbox safely here, else None (cached per process)."""
    nsenter, setpriv = shutil.which("nsenter"), shutil.which("setpriv")
    if nsenter is None or setpriv is None:
        return None
    try:
        help_text = subprocess.run([nsenter, "--help"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (nsenter, setpriv) if "--wdns" in help_text else None


def start_holder(argv: list[str], pass_fds: tuple[int, ...] = ()) -> tuple[subprocess.Popen, int]:
    """Start `bwrap ... -- HOLDER_COMMAND` (argv[0] is bwrap) and wait until its sandbox is set up.

    Returns the Popen and the host pid of the process inside, whose /proc/<pid>/ns/* are the
    namespaces built. bwrap reports the pid (--info-fd) before the mounts are done, hence the READY
    line from inside."""
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [argv[0], "--info-fd", str(write_fd), *argv[1:]], pass_fds=(*pass_fds, write_fd),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to hermes must not end it
        )
    finally:
        os.close(write_fd)
    try:
        data = b""
        while b"}" not in data:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_fd)
    ready = b"}" in data and proc.stdout.readline() == READY
    proc.stdout.close()  # one fd fewer per environment (batch runs hold a thousand)
    if not ready:
        stop_holder(proc)
        raise OSError("bubblewrap exited before the sandbox was ready")
    return proc, json.loads(data)["child-pid"]


def stop_holder(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


def open_ns(pid: int, kind: str) -> int:
    return os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)


def join_argv(tools: tuple[str, str], fds: dict[str, int], cwd: str, argv: list[str]) -> list[str]:
    """The command line that runs `argv` in the namespaces `fds` (kind -> fd passed to the child)."""
    nsenter, setpriv = tools
    out = [nsenter]
    if "user" in fds:
        out += [f"--user=/proc/self/fd/{fds['user']}", "--preserve-credentials"]
    out += [f"--mount=/proc/self/fd/{fds['mnt']}", f"--pid=/proc/self/fd/{fds['pid']}"]
    if "net" in fds:
        out.append(f"--net=/proc/self/fd/{fds['net']}")
    out += [f"--wdns={cwd}", "--", setpriv, "--no-new-privs"]
    if "user" in fds:  # entering the user namespace granted every capability in it: none may reach the command
        out += ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    return out + ["--", *argv]
