"""An OS sandbox for the local backend: every command's bash runs inside bubblewrap (`bwrap`).

    problem = probe()                    # None when bwrap works here (run once, cached), else why not
    box = Sandbox(SandboxSpec("workspace-write", workspace="/repo", hidden=(...), masked=(...)))
    argv = box.wrap(["bash", "-c", ...], state_dir)   # prefix for subprocess.Popen
    box.close()

Modes (`terminal.sandbox`): `read-only` (the whole file system read-only, a private /tmp),
`workspace-write` (also the workspace and the temp dir writable), `off`. In both, `$HERMES_HOME` is
an empty tmpfs (its `skills/` re-appears read-only), the agent's credential files are replaced by
an empty read-only file, protected places inside writable roots (`.git/hooks`, `.git/config`,
`./cli-config.yaml`, shell start-up files when the workspace is $HOME) are read-only, the network is
a fresh namespace (loopback only) unless `network` is on, and `/proc` shows only the sandbox's own
processes: hermes (and its environment and argv) is invisible.

All commands of one environment share one pid namespace, held by a tiny `sleep infinity` inside
it: `server &` outlives its command as it does without the sandbox, `ps` sees the earlier
commands' processes, and closing the environment kills them all (`--die-with-parent` too).
Process groups work as before: bwrap's own child is in the group hermes signals. Without root,
bwrap makes a user namespace too and commands join it: inside, they see themselves as uid 0 of that
namespace (it maps to the user's own uid outside and grants nothing there).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

OFF, READ_ONLY, WORKSPACE_WRITE = "off", "read-only", "workspace-write"
SANDBOX_MODES = (OFF, READ_ONLY, WORKSPACE_WRITE)
DEFAULT_MODE = WORKSPACE_WRITE
PROBE_TIMEOUT = 5.0

NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: a new fd for the user namespace that owns it

# What a write the sandbox refused looks like in a command's output.
_BLOCKED = re.compile(r"Read-only file system|read-only file system|EROFS")


@dataclass(frozen=True)
class SandboxSpec:
    mode: str  # READ_ONLY or WORKSPACE_WRITE
    workspace: str
    network: bool = True
    hidden: tuple[str, ...] = ()  # directories replaced by an empty tmpfs ($HERMES_HOME)
    reveal: tuple[str, ...] = ()  # read-only again inside a hidden directory (skills)
    masked: tuple[str, ...] = ()  # files replaced by an empty read-only file (credentials)
    frozen: tuple[str, ...] = ()  # read-only even inside a writable root (git hooks, start-up files)
    temp_dir: str = field(default_factory=tempfile.gettempdir)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def probe() -> str | None:
    """None when bubblewrap can build a sandbox here; else a one-line reason (cached per process)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed; install the 'bubblewrap' package"
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
            "--die-with-parent", "true"]
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not start: {exc}"
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot create namespaces here ({detail[-1] if detail else f'exit {result.returncode}'})"
    return None


def parse_mode(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_MODE
    mode = str(value).strip().lower().replace("_", "-")
    if mode in ("false", "no", "none", "0"):
        return OFF
    if mode not in SANDBOX_MODES:
        raise ValueError(f"unknown sandbox mode {value!r}; choose one of {', '.join(SANDBOX_MODES)}")
    return mode


def looks_blocked(output: str) -> bool:
    """True when a command's output says the sandbox refused a write. The exit status is not
    consulted: `perl -e rmtree(...)` or `cmd || true` report the refusal and still exit 0."""
    return bool(_BLOCKED.search(output))


def _wait_for_uid_map(pid: int, timeout: float = 2.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/uid_map", encoding="utf-8") as fh:
                if fh.read().strip():
                    return
        except OSError:
            return
        time.sleep(0.005)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Sandbox:
    """The bwrap argv prefix for one environment, and the pid namespace its commands share."""

    def __init__(self, spec: SandboxSpec, bwrap: str | None = None) -> None:
        self.spec = spec
        self.bwrap = bwrap or bwrap_path() or "bwrap"
        self._holder: subprocess.Popen | None = None
        self._ns_fds: list[tuple[str, int]] = []
        self._empty: str | None = None
        self._lock = threading.Lock()  # parallel tool calls share one holder

    def describe(self) -> str:
        net = "network on" if self.spec.network else "network off"
        return f"{self.spec.mode} (bubblewrap, {net})"

    # -- the shared pid namespace -----------------------------------------------------------------
    def _ensure_holder(self) -> None:
        with self._lock:
            if self._holder is None or self._holder.poll() is not None:
                self._start_holder()

    def _start_holder(self) -> None:
        self._drop_holder()
        read_fd, write_fd = os.pipe()
        try:
            self._holder = subprocess.Popen(
                [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
                 "--die-with-parent", "--info-fd", str(write_fd), "sleep", "infinity"],
                pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,  # a Ctrl-C to hermes must not end it
            )
        finally:
            os.close(write_fd)
        try:
            data = b""
            while b"}" not in data:
                chunk = os.read(read_fd, 4096)
                if not chunk:
                    raise OSError("bubblewrap exited before the sandbox was ready")
                data += chunk
        finally:
            os.close(read_fd)
        child = json.loads(data)["child-pid"]
        pid_fd = os.open(f"/proc/{child}/ns/pid", os.O_RDONLY)
        self._ns_fds = [("pid", pid_fd)]
        if os.geteuid() != 0:
            # Unprivileged bwrap made a user namespace too; joining the pid namespace needs the one that
            # owns it (the holder may be inside a nested one by now), and its uid map in place.
            _wait_for_uid_map(child)
            self._ns_fds.append(("user", fcntl.ioctl(pid_fd, NS_GET_USERNS)))

    def _drop_holder(self) -> None:
        for _, fd in self._ns_fds:
            os.close(fd)
        self._ns_fds = []
        if self._holder is not None:
            if self._holder.poll() is None:
                try:
                    os.killpg(self._holder.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._holder.wait()
            self._holder = None

    def close(self) -> None:
        """Kill every process left in the sandbox."""
        with self._lock:
            self._drop_holder()

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return tuple(fd for _, fd in self._ns_fds)

    # -- one command ------------------------------------------------------------------------------
    def wrap(self, argv: list[str], state_dir: str, mode: str | None = None) -> list[str]:
        """bwrap + mounts + `argv`. Popen it with `pass_fds=self.pass_fds` (closing the environment
        concurrently closes those fds: the Popen then fails with OSError, like a closed environment).
        `mode=READ_ONLY` makes this one command read-only whatever the spec says (plan mode)."""
        self._ensure_holder()
        spec = self.spec
        mode = mode or spec.mode
        out = [self.bwrap, "--die-with-parent"]
        for kind, fd in self._ns_fds:
            out += [f"--{kind}ns", str(fd)]
        out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        if not spec.network:
            out.append("--unshare-net")
        # A workspace of "/" (hermes started at the root) would make everything writable: only temp is.
        writable = [r for r in (spec.workspace, spec.temp_dir) if r != "/"] if mode == WORKSPACE_WRITE else []
        if mode == READ_ONLY:
            out += ["--tmpfs", "/tmp"]
            if _under(spec.workspace, "/tmp"):
                out += ["--ro-bind", spec.workspace, spec.workspace]  # the tmpfs must not hide it
        for root in writable:
            if os.path.isdir(root):
                out += ["--bind", root, root]
        out += ["--bind", state_dir, state_dir]  # the shell-state files (cwd, exports) of each call
        for hidden in spec.hidden:
            if os.path.isdir(hidden):
                out += ["--tmpfs", hidden]
        for path in spec.reveal:
            if os.path.isdir(path):
                out += ["--ro-bind", path, path]
        for path in spec.frozen:
            if os.path.exists(path) and any(_under(path, root) for root in (*writable, state_dir)):
                out += ["--ro-bind", path, path]
        empty = self._empty_file(state_dir)
        for path in spec.masked:
            if os.path.isfile(path) and not any(_under(path, h) for h in spec.hidden):
                out += ["--ro-bind", empty, path]
        return out + ["--"] + argv

    def _empty_file(self, state_dir: str) -> str:
        if self._empty is None or not os.path.exists(self._empty):
            path = os.path.join(state_dir, "empty")
            if not os.path.exists(path):
                with open(path, "w", encoding="utf-8"):
                    pass
                os.chmod(path, 0o444)
            self._empty = path
        return self._empty

    def missing_frozen(self, mode: str | None = None) -> list[str]:
        """Protected files that do not exist yet inside writable roots: bwrap cannot freeze what is
        not there, so the environment checks after each command that none appeared."""
        spec = self.spec
        if (mode or spec.mode) != WORKSPACE_WRITE:
            return []
        roots = (spec.workspace, spec.temp_dir)
        return [p for p in (*spec.frozen, *spec.masked)
                if not os.path.lexists(p) and any(_under(p, r) for r in roots)]


def spec_for(mode: str, workspace: str, *, network: bool = True, hermes_home: str | None = None,
             hermes_cwd: str | None = None) -> SandboxSpec:
    """The sandbox for a workspace: what to hide, mask and freeze comes from tools/path_policy.py."""
    from pathlib import Path

    from tools.path_policy import (
        HERMES_CWD_FILES,
        HERMES_HOME_READABLE,
        HOME_PROTECTED_DIRS,
        HOME_STARTUP_FILES,
        resolve,
    )

    if hermes_home is None:
        from recording.paths import hermes_home as default_home

        hermes_home = str(default_home())
    hh = resolve(hermes_home)
    ws = resolve(workspace)
    cwds = list(dict.fromkeys([ws, resolve(hermes_cwd or os.getcwd())]))
    home = resolve(Path.home())
    frozen = [os.path.join(ws, ".git", "hooks"), os.path.join(ws, ".git", "config")]
    frozen += [resolve(os.path.join(home, name)) for name in (*HOME_STARTUP_FILES, *HOME_PROTECTED_DIRS)]
    masked = [os.path.join(cwd, name) for cwd in cwds for name in HERMES_CWD_FILES]
    return SandboxSpec(mode=mode, workspace=ws, network=network, hidden=(hh,),
                       reveal=tuple(os.path.join(hh, name) for name in HERMES_HOME_READABLE),
                       masked=tuple(masked), frozen=tuple(dict.fromkeys(frozen)))


def make_sandbox(terminal: TerminalSettings, workspace: str) -> Sandbox | None:
    """The sandbox for a new local environment (terminal.sandbox, terminal.sandbox_network), or None
    (off, or bubblewrap unusable here)."""
    if terminal.sandbox == OFF or probe() is not None:
        return None
    return Sandbox(spec_for(terminal.sandbox, workspace, network=terminal.sandbox_network))


def status_line(terminal: TerminalSettings, backend: str = "local") -> str:
    """One line for the banner: what confines the model's commands, and why not when nothing does."""
    if backend != "local":
        return f"the {backend} backend (no local sandbox)"
    mode = terminal.sandbox
    if mode == OFF:
        return "off (terminal.sandbox: off): commands run unconfined"
    problem = probe()
    if problem is not None:
        return f"off: {problem}; commands run unconfined"
    net = "network on" if terminal.sandbox_network else "network off"
    writable = "workspace and temp writable" if mode == WORKSPACE_WRITE else "nothing writable but a private /tmp"
    return f"{mode} (bubblewrap: {writable}, {net})"
