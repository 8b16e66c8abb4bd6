"""Where the file tools read and write: the same place the task's `terminal` runs.

    files_for(task_id) -> LocalFiles | RemoteFiles

`LocalFiles` is this machine (`os`, `open`), used by the local backend. `RemoteFiles` goes through
the task's environment (`run_raw`: docker exec, ssh, apptainer exec, a Modal exec) with bash builtins
and coreutils/busybox only, so any image with bash works. Bytes cross the channel as base64 both ways,
because `run_raw` decodes text and would mangle binary or non-UTF-8 content.
"""

from __future__ import annotations

import base64
import errno
import io
import os
import shlex
import stat
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO
from weakref import WeakKeyDictionary

from tools.environments.manager import (
    BackendUnavailable,
    current_config,
    get_environment,
    peek_environment,
    resolve_path,
)

BINARY_SNIFF_BYTES = 8192
MAX_REMOTE_READ = 32 * 1024 * 1024  # whole-file reads go through memory twice (base64 and bytes)
REMOTE_TIMEOUT = 60.0

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import; os.umask has no getter


@dataclass(frozen=True)
class FileStat:
    kind: str  # "missing", "dir", "file" (regular) or "other" (device, socket, pipe)
    size: int = 0
    binary: bool = False  # a regular file with a NUL byte in its first 8 KiB


def atomic_write(path: str, data: bytes) -> bool:
    """Write via a temp file in the same directory + rename. Follows symlinks, keeps the file mode.

    Returns True when the file already existed (overwritten), False when it was created.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)  # what a plain open() would have created (mkstemp uses 0600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return mode is not None


class LocalFiles:
    """This machine's file system, exactly what the file tools have always used."""

    remote = False
    where = "local"

    def __init__(self, task_id: str | None = None, settings: Any = None) -> None:
        self.task_id = task_id
        self.settings = settings  # agent.settings.TerminalSettings, or None for the configured ones

    def resolve(self, path: str) -> str:
        return resolve_path(self.task_id, path, self.settings)

    def stat(self, path: str) -> FileStat:
        """Raises OSError only when a regular file cannot be opened for the binary sniff."""
        try:
            mode = os.stat(path).st_mode  # one stat, as os.path.exists/isdir/isfile would make three
        except OSError:  # absent, a dangling symlink, no search permission: as os.path.exists says
            return FileStat("missing")
        if stat.S_ISDIR(mode):
            return FileStat("dir")
        if not stat.S_ISREG(mode):
            return FileStat("other")
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            binary = b"\0" in fh.read(BINARY_SNIFF_BYTES)
        return FileStat("file", size, binary)

    def open(self, path: str) -> BinaryIO:
        return open(path, "rb")

    def write(self, path: str, data: bytes) -> bool:
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        return atomic_write(path, data)

    def listdir(self, path: str) -> list[str] | None:
        """Entries of a directory; None when `path` is not one (OSError when it cannot be listed)."""
        if not os.path.isdir(path):
            return None
        return os.listdir(path)


# Per environment: its login $HOME and start $PWD, for `~` and relative paths when no cwd is known yet.
_homes: WeakKeyDictionary = WeakKeyDictionary()


class RemoteFiles:
    """Files inside a remote environment. Each operation is one `run_raw` round trip (plus one per
    environment, once, to learn its $HOME and start directory)."""

    remote = True

    def __init__(self, env) -> None:
        self.env = env
        self.where = env.backend
        self._cache: dict[str, bytes] = {}  # one tool call reads a file once, however often it opens it

    def run(self, script: str, timeout: float = REMOTE_TIMEOUT) -> tuple[int, str, str]:
        try:
            return self.env.run_raw(script, timeout=timeout)
        except BackendUnavailable as exc:  # e.g. the SSH connection could not be re-opened
            raise OSError(str(exc)) from exc

    def _home_and_start(self) -> tuple[str, str]:
        cached = _homes.get(self.env)
        if cached is None:
            try:
                code, out, _ = self.run("builtin printf '%s\\n%s\\n' \"$HOME\" \"$PWD\"\n", timeout=30)
            except OSError:
                code, out = -1, ""
            lines = out.splitlines()
            if code != 0 or len(lines) != 2:
                return "/", "/"  # transport trouble: the file operation that follows reports it
            cached = (lines[0], lines[1])
            _homes[self.env] = cached
        return cached

    def resolve(self, path: str) -> str:
        """Absolute path there: `~` is the remote home, relative paths follow the terminal's cwd."""
        if path == "~" or path.startswith("~/"):
            path = self._home_and_start()[0] + path[1:]
        if path.startswith("/"):
            return os.path.normpath(path)
        base = self.env.cwd or self._home_and_start()[1]
        return os.path.normpath(os.path.join(base, path))

    def stat(self, path: str) -> FileStat:
        p = shlex.quote(path)
        script = (
            f"if [ ! -e {p} ]; then echo missing; elif [ -d {p} ]; then echo dir; "
            f"elif [ ! -f {p} ]; then echo other; else "
            f"[ -r {p} ] || {{ echo 'Permission denied' >&2; exit 13; }}; "
            f"__hs=$(head -c {BINARY_SNIFF_BYTES} -- {p} | wc -c); "
            f"__hn=$(head -c {BINARY_SNIFF_BYTES} -- {p} | tr -d '\\000' | wc -c); "
            f"echo file $(wc -c <{p}) $((__hs != __hn)); fi\n"
        )
        code, out, err = self.run(script)
        fields = out.split()
        if code != 0 or not fields:
            raise OSError(_message(err, code))
        if fields[0] == "file" and len(fields) == 3:
            return FileStat("file", int(fields[1]), fields[2] == "1")
        return FileStat(fields[0])

    def read(self, path: str) -> bytes:
        if path in self._cache:
            return self._cache[path]
        p = shlex.quote(path)
        script = (
            f"__hz=$(wc -c <{p}) || exit 1; "
            f"if [ \"$__hz\" -gt {MAX_REMOTE_READ} ]; then echo \"too large: $__hz\" >&2; exit 27; fi; "
            f"base64 <{p}\n"
        )
        code, out, err = self.run(script)
        if code == 27:
            size = err.strip().rsplit(" ", 1)[-1]
            raise OSError(f"file is too large to read over the {self.where} backend ({size} bytes, limit "
                          f"{MAX_REMOTE_READ}); page through it with the terminal (e.g. sed -n)")
        if code != 0:
            raise OSError(_message(err, code))
        data = base64.b64decode("".join(out.split()))
        self._cache[path] = data
        return data

    def open(self, path: str) -> BinaryIO:
        return io.BytesIO(self.read(path))

    def write(self, path: str, data: bytes) -> bool:
        """Atomic like the local write: temp file beside the target, same mode, then `mv`."""
        self._cache.pop(path, None)
        encoded = base64.encodebytes(data).decode("ascii")
        script = (
            f"__hp={shlex.quote(path)}\n"
            # Follow a symlink to the file it names, as os.path.realpath does locally.
            'if [ -L "$__hp" ]; then __hp=$(readlink -f -- "$__hp") || exit 1; fi\n'
            '[ -d "$__hp" ] && { echo isdir; exit 0; }\n'
            '__hd=$(dirname -- "$__hp"); __hb=$(basename -- "$__hp")\n'
            'mkdir -p -- "$__hd" || exit 1\n'
            '__hm=; [ -e "$__hp" ] && { __hm=$(stat -c %a -- "$__hp") || exit 1; }\n'
            '__ht=$(mktemp "$__hd/.$__hb.XXXXXX") || exit 1\n'
            'trap \'rm -f -- "$__ht"\' EXIT\n'
            "base64 -d >\"$__ht\" <<'__HERMES_B64__' || exit 1\n"
            f"{encoded}__HERMES_B64__\n"
            # mktemp makes 0600; a new file gets what a plain `>` would have given it.
            'if [ -n "$__hm" ]; then chmod "$__hm" -- "$__ht"; '
            'else chmod "$(printf %o $((0666 & ~0$(umask))))" -- "$__ht"; fi || exit 1\n'
            'mv -f -- "$__ht" "$__hp" || exit 1\n'
            'trap - EXIT\n'
            'if [ -n "$__hm" ]; then echo overwrote; else echo created; fi\n'
        )
        code, out, err = self.run(script, timeout=max(REMOTE_TIMEOUT, len(data) / 1e6))
        if code == 0 and out.strip() == "isdir":
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if code != 0 or out.strip() not in ("overwrote", "created"):
            raise OSError(_message(err, code))
        return out.strip() == "overwrote"

    def listdir(self, path: str) -> list[str] | None:
        p = shlex.quote(path)
        code, out, err = self.run(f"[ -d {p} ] || exit 3; ls -1A -- {p}\n")
        if code == 3:
            return None
        if code != 0:
            raise OSError(_message(err, code))
        return [line for line in out.split("\n") if line]


def _message(stderr: str, code: int) -> str:
    """The last line of a remote tool's stderr without its `prog: file:` prefix, else the exit code."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return f"remote command failed (exit code {code})"
    return lines[-1].rsplit(": ", 1)[-1] if ": " in lines[-1] else lines[-1]


def files_are_local(task_id: str | None, settings: Any = None) -> bool:
    """Whether the task's terminal sees this machine's files (the local backend); never starts one."""
    env = peek_environment(task_id or "default")
    return (env.backend if env is not None else current_config(settings).backend) == "local"


def files_for(task_id: str | None, settings: Any = None) -> LocalFiles | RemoteFiles:
    """The file system the task's terminal sees. May raise BackendUnavailable (as the terminal would)."""
    if files_are_local(task_id, settings):
        return LocalFiles(task_id, settings)
    env = peek_environment(task_id or "default") or get_environment(task_id or "default", settings=settings)
    if not env.has_raw_channel:  # a backend without a raw channel: nothing better than this host
        return LocalFiles(task_id, settings)
    return RemoteFiles(env)
