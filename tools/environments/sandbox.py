"""An OS sandbox for the local backend: every command's bash runs inside bubblewrap's namespaces.

    problem = probe()                    # None when bwrap works here (run once, cached), else why not
    box = Sandbox(SandboxSpec("workspace-write", workspace="/repo", hidden=(...), masked=(...)))
    with box.command(["bash", "-c", ...], state_dir, cwd=cwd) as (argv, fds):
        subprocess.Popen(argv, pass_fds=fds, cwd=cwd, ...)
    box.close()

Modes (`terminal.sandbox`): `read-only` (the whole file system read-only, a private /tmp),
`workspace-write` (also the workspace and the temp dir writable), `off`. In both, `$HERMES_HOME` is
an empty tmpfs (its `skills/` re-appears read-only), the agent's credential files are replaced by
an empty read-only file, protected places inside writable roots (`.git/hooks`, `.git/config`,
`./cli-config.yaml`, shell start-up files when the workspace is $HOME) are read-only, the network is
a namespace of the environment's own (loopback only) unless `network` is on, and `/proc` shows only
the sandbox's own processes: hermes (and its environment and argv) is invisible.

All commands of one environment share one pid namespace, held by a tiny holder process inside it:
`server &` outlives its command as it does without the sandbox, `ps` sees the earlier commands'
processes, and closing the environment kills them all (`--die-with-parent` too). The holder also
builds the configured mode's mounts, and each command enters them with nsenter (see sandbox_ns.py:
~3 ms of CPU less per command than a bwrap each); another mode (plan mode's read-only) gets its own
mount namespace from a short-lived bwrap, and a mode's mounts are rebuilt before a command whenever
a path they depend on appeared, vanished or was replaced, so a `.git/hooks` made after the first
command is read-only for the next one as it was when bwrap ran per command (still the fallback
without util-linux 2.38's nsenter). Process groups work as before: nsenter's child is in the group
hermes signals. Without root, bwrap makes a user namespace too and commands join it: inside, they
see themselves as uid 0 of that namespace, with no capabilities and no-new-privileges (it maps to
the user's own uid outside and grants nothing there).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tools.environments import sandbox_ns

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


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _below(path: str, root: str) -> bool:
    return path != root and _under(path, root)


def _isdir(ident: tuple | None) -> bool:
    return ident is not None and stat.S_ISDIR(ident[2])


def _isfile(ident: tuple | None) -> bool:
    return ident is not None and stat.S_ISREG(ident[2])


class Sandbox:
    """The namespaces of one environment's commands, and the command line that enters them."""

    def __init__(self, spec: SandboxSpec, bwrap: str | None = None, join: bool | None = None) -> None:
        self.spec = spec
        self.bwrap = bwrap or bwrap_path() or "bwrap"
        # Enter namespaces built once (sandbox_ns.py) or, without a safe nsenter, a bwrap per command.
        self._tools = sandbox_ns.joiner() if join is not False else None
        self._holder: subprocess.Popen | None = None
        self._ns: dict[str, int] = {}  # pid, user (unprivileged), net (network off): the holder's
        self._mounts: dict[str, tuple[tuple, int]] = {}  # mode -> (what the mounts were built from, mnt fd)
        self._empty: str | None = None
        self._lock = threading.Lock()  # parallel tool calls share the holder; close() waits for a spawn

    def describe(self) -> str:
        net = "network on" if self.spec.network else "network off"
        return f"{self.spec.mode} (bubblewrap, {net})"

    @property
    def joins(self) -> bool:
        """True when commands enter prebuilt namespaces (False: a bwrap per command)."""
        return self._tools is not None

    # -- the shared pid (and user, network) namespace ---------------------------------------------
    def _ensure_holder(self, state_dir: str) -> None:
        if self._holder is None or self._holder.poll() is not None:
            self._drop_holder()
            self._start_holder(state_dir)

    def _start_holder(self, state_dir: str) -> None:
        argv = [self.bwrap, "--unshare-pid", "--die-with-parent"]
        if self.joins:
            # The holder's own mounts are those of the configured mode: most environments never build another.
            args, built_from = self._mount_args(self.spec.mode, state_dir)
            argv += args + ([] if self.spec.network else ["--unshare-net"])  # one loopback-only network
        else:
            argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        self._holder, child = sandbox_ns.start_holder(argv + ["--", *sandbox_ns.HOLDER_COMMAND])
        pid_fd = sandbox_ns.open_ns(child, "pid")
        self._ns = {"pid": pid_fd}
        if os.geteuid() != 0:
            # Unprivileged bwrap made a user namespace too; joining the pid namespace needs the one
            # that owns it.
            self._ns["user"] = fcntl.ioctl(pid_fd, NS_GET_USERNS)
            os.set_inheritable(self._ns["user"], False)
        if self.joins:
            if not self.spec.network:
                self._ns["net"] = sandbox_ns.open_ns(child, "net")
            self._mounts[self.spec.mode] = (built_from, sandbox_ns.open_ns(child, "mnt"))

    def _drop_holder(self) -> None:
        for _, fd in self._mounts.values():
            os.close(fd)
        self._mounts = {}
        for fd in self._ns.values():
            os.close(fd)
        self._ns = {}
        if self._holder is not None:
            sandbox_ns.stop_holder(self._holder)
            self._holder = None

    def close(self) -> None:
        """Kill every process left in the sandbox."""
        with self._lock:
            self._drop_holder()

    def _joined(self) -> list[str]:
        out = []
        for kind in ("pid", "user"):
            if kind in self._ns:
                out += [f"--{kind}ns", str(self._ns[kind])]
        return out

    # -- the mount namespace of a mode ------------------------------------------------------------
    def _mount_ns(self, mode: str, state_dir: str) -> int:
        """The mnt fd for `mode`, rebuilt when a protected path appeared, vanished or was replaced
        since it was built (a bind mount is of one inode, and a path that did not exist is not
        frozen): the same check bwrap got for free by building the mounts per command."""
        args, built_from = self._mount_args(mode, state_dir)
        held = self._mounts.get(mode)
        if held is not None and held[0] == built_from:
            return held[1]
        argv = [self.bwrap, "--die-with-parent", *self._joined(), *args, "--", *sandbox_ns.HOLDER_COMMAND]
        proc, child = sandbox_ns.start_holder(argv, tuple(self._ns.values()))
        try:
            fd = sandbox_ns.open_ns(child, "mnt")
        finally:
            sandbox_ns.stop_holder(proc)  # the fd keeps the namespace; no process needs to
        if held is not None:
            os.close(held[1])  # no spawn is using it: they happen under the lock
        self._mounts[mode] = (built_from, fd)
        return fd

    def _mount_args(self, mode: str, state_dir: str) -> tuple[list[str], tuple]:
        """bwrap's mount arguments for `mode`, and the identity of every path they depend on."""
        spec = self.spec
        seen: list[tuple[str, tuple | None]] = []

        def ident(path: str, strong: bool = False) -> tuple | None:
            # strong: also the change time, so a protected file deleted and re-created under the same
            # inode number still counts as new (roots are written all the time: inode only)
            try:
                st = os.stat(path)
            except OSError:
                found = None
            else:
                found = (st.st_dev, st.st_ino, st.st_mode, st.st_ctime_ns if strong else 0)
            seen.append((path, found))
            return found

        out = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        # A workspace of "/" (hermes started at the root) would make everything writable: only temp is.
        writable = [r for r in (spec.workspace, spec.temp_dir) if r != "/"] if mode == WORKSPACE_WRITE else []
        if mode == READ_ONLY:
            out += ["--tmpfs", "/tmp"]
            if _under(spec.workspace, "/tmp") and ident(spec.workspace):
                out += ["--ro-bind", spec.workspace, spec.workspace]  # the tmpfs must not hide it
        for root in writable:
            if _isdir(ident(root)):
                out += ["--bind", root, root]
        ident(state_dir)
        out += ["--bind", state_dir, state_dir]  # the shell-state files (cwd, exports) of each call
        for hidden in spec.hidden:
            if _isdir(ident(hidden)):
                out += ["--tmpfs", hidden]
        for path in spec.reveal:
            if _isdir(ident(path)):
                out += ["--ro-bind", path, path]
        frozen, masked = _protected(spec, tuple(writable), state_dir)
        for path in frozen:
            if ident(path, strong=True):
                out += ["--ro-bind", path, path]
        empty = self._empty_file(state_dir)
        for path in masked:
            if _isfile(ident(path, strong=True)):
                out += ["--ro-bind", empty, path]
        return out, (mode, tuple(seen))

    # -- one command ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def command(self, argv: list[str], state_dir: str, mode: str | None = None,
                cwd: str | None = None) -> Iterator[tuple[list[str], tuple[int, ...]]]:
        """`with box.command(argv, state_dir, mode, cwd) as (argv, fds):` Popen(argv, pass_fds=fds,
        cwd=cwd) inside the block: the fds stay valid until it ends (close() waits for it).
        `mode=READ_ONLY` makes this one command read-only whatever the spec says (plan mode)."""
        mode = mode or self.spec.mode
        cwd = cwd or os.getcwd()
        with self._lock:
            self._ensure_holder(state_dir)
            if self._tools is None:
                yield self._bwrap_argv(argv, state_dir, mode), tuple(self._ns.values())
                return
            fds = {**self._ns, "mnt": self._mount_ns(mode, state_dir)}
            yield sandbox_ns.join_argv(self._tools, fds, self._inside_cwd(cwd, mode), argv), tuple(fds.values())

    def _bwrap_argv(self, argv: list[str], state_dir: str, mode: str) -> list[str]:
        out = [self.bwrap, "--die-with-parent", *self._joined(), *self._mount_args(mode, state_dir)[0]]
        if not self.spec.network:
            out.append("--unshare-net")
        return out + ["--"] + argv

    def _inside_cwd(self, cwd: str, mode: str) -> str:
        """Where the command starts: `cwd` unless the sandbox hides it (then $HOME, else /), as bwrap does."""
        def visible(path: str) -> bool:  # the tmpfs mount points themselves exist, empty
            spec = self.spec
            if any(_below(path, h) for h in spec.hidden) and not any(_under(path, r) for r in spec.reveal):
                return False
            return not (mode == READ_ONLY and _below(path, "/tmp") and not _under(path, spec.workspace))

        if visible(cwd):
            return cwd
        home = os.path.expanduser("~")
        return home if os.path.isdir(home) and visible(home) else "/"

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
        return [p for p in _inside(spec, (spec.workspace, spec.temp_dir)) if not os.path.lexists(p)]


# Which protected paths matter depends only on the spec and the writable roots: worked out once,
# not per command (a spec lists a few hundred paths; each command still stats the ones that matter).
@functools.lru_cache(maxsize=256)
def _protected(spec: SandboxSpec, writable: tuple[str, ...], state_dir: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(frozen paths inside a writable root or the state dir, masked files outside hidden dirs)."""
    roots = (*writable, state_dir)
    frozen = tuple(p for p in spec.frozen if any(_under(p, root) for root in roots))
    masked = tuple(p for p in spec.masked if not any(_under(p, h) for h in spec.hidden))
    return frozen, masked


@functools.lru_cache(maxsize=256)
def _inside(spec: SandboxSpec, roots: tuple[str, ...]) -> tuple[str, ...]:
    """The spec's frozen and masked paths inside `roots`."""
    return tuple(p for p in (*spec.frozen, *spec.masked) if any(_under(p, r) for r in roots))


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
