"""Where checkpoints live: `$HERMES_HOME/checkpoints/<session_id>/`, private to the user.

    index.jsonl   one record a line, appended: turns, file changes, rewinds (agent/checkpoints.py)
    blobs/ab/cd…  file contents, named by their SHA-256 (the same content is stored once)
    workspace.pack  this process's copy of the workspace, for terminal commands: one file written
                  sequentially (creating a file per workspace file costs ~1 ms each on overlayfs),
                  unlinked as soon as it is open; a file's content moves into blobs/ only when a
                  command changes it
    lock          held (flock) by the process using the session, so pruning elsewhere skips it

Directories are 0700 and files 0600: old file contents may be as private as the files were.
The whole store is bounded (`checkpoints.max_size_mb`): `prune` deletes other sessions' checkpoints,
oldest first, and the session in use can drop its own oldest changes (`SessionStore.gc`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from recording.private import write_private_bytes

ABSENT = "-"  # the file did not exist
UNSAVED = "?"  # it existed, but was too big (checkpoints.max_file_mb) or unreadable to save


def _mkdir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def _tree_size(path: Path) -> int:
    total = 0
    for base, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total


class SessionStore:
    """One session's index and blobs. Only the process holding the session's lock writes here."""

    def __init__(self, root: Path, session_id: str) -> None:
        self.root = root
        self.dir = root / session_id
        self.index = self.dir / "index.jsonl"
        self.blobs = self.dir / "blobs"
        self._lock_fd: int | None = None
        self.size: int | None = None  # bytes of this session's files, once measured
        self._made: set[Path] = set()  # blob subdirectories known to exist
        self.pack = self.dir / "workspace.pack"
        self._pack_fd: int | None = None
        self._pack_end = 0

    def open(self) -> None:
        """Create the directories (0700) and take the session's lock."""
        if self._lock_fd is not None and self.size is not None:
            return
        _mkdir(self.root)
        _mkdir(self.dir)
        _mkdir(self.blobs)
        if self._lock_fd is None:
            fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                pass  # another process of the same session (refused elsewhere); go on unlocked
            self._lock_fd = fd
        if self.size is None:
            self.size = _tree_size(self.dir)

    def close(self) -> None:
        self.pack_drop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _blob_path(self, digest: str) -> Path:
        return self.blobs / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store `data` (once per content); return its digest."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._blob_path(digest)
        if path.exists():
            return digest
        if path.parent not in self._made:
            _mkdir(path.parent)
            self._made.add(path.parent)
        write_private_bytes(path, data)
        self.size = (self.size or 0) + len(data)
        return digest

    # -- the workspace copy ------------------------------------------------------------------------
    def pack_reset(self) -> None:
        """Start an empty workspace copy (a previous process's is stale)."""
        self.pack_drop()
        try:
            self.size = (self.size or 0) - self.pack.stat().st_size
        except FileNotFoundError:
            pass
        self._pack_fd = os.open(self.pack, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.pack.unlink()  # open but nameless: the kernel frees it when this process ends, even on kill -9
        self._pack_end = 0

    def pack_add(self, data: bytes) -> tuple[int, int]:
        """Append `data` to the workspace copy; return where it is (offset, length)."""
        assert self._pack_fd is not None
        offset, view, written = self._pack_end, memoryview(data), 0
        while written < len(data):
            written += os.pwrite(self._pack_fd, view[written:], offset + written)
        self._pack_end += len(data)
        self.size = (self.size or 0) + len(data)
        return offset, len(data)

    def pack_read(self, offset: int, length: int) -> bytes:
        assert self._pack_fd is not None
        return os.pread(self._pack_fd, length, offset)

    def pack_drop(self) -> None:
        """Forget the workspace copy (terminal watching stopped, or the process ends)."""
        if self._pack_fd is None:
            return
        os.close(self._pack_fd)
        self._pack_fd = None
        self.pack.unlink(missing_ok=True)
        self.size = (self.size or 0) - self._pack_end
        self._pack_end = 0

    def get(self, digest: str) -> bytes | None:
        try:
            return self._blob_path(digest).read_bytes()
        except OSError:
            return None

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "surrogateescape")
        fd = os.open(self.index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self.size = (self.size or 0) + len(line)

    def records(self) -> list[dict[str, Any]]:
        try:
            text = self.index.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a kill -9
        return out

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the index (after pruning its oldest changes), atomically."""
        tmp = self.index.with_name(".index.jsonl.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(tmp, self.index)

    def gc(self, keep: set[str]) -> None:
        """Delete blobs whose digest is not in `keep`; remeasure."""
        for sub in list(self.blobs.iterdir()) if self.blobs.is_dir() else []:
            for blob in list(sub.iterdir()):
                if sub.name + blob.name not in keep:
                    blob.unlink(missing_ok=True)
        self._made.clear()
        self.size = _tree_size(self.dir)


def _in_use(directory: Path) -> bool:
    """True when a live process holds the session's lock."""
    try:
        fd = os.open(directory / "lock", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def others_size(root: Path, current: str) -> int:
    """Bytes of every other session's checkpoints."""
    return sum(_tree_size(e) for e in (root.iterdir() if root.is_dir() else []) if e.is_dir() and e.name != current)


def prune_others(root: Path, current: str, max_bytes: int, current_size: int) -> list[str]:
    """Delete other sessions' checkpoints, oldest first, until the store fits in `max_bytes`
    (sessions in use by another process are left alone). Returns the ids deleted."""
    others = []
    for entry in root.iterdir() if root.is_dir() else []:
        if entry.is_dir() and entry.name != current:
            try:
                used = (entry / "index.jsonl").stat().st_mtime if (entry / "index.jsonl").exists() else entry.stat().st_mtime
                others.append((used, entry, _tree_size(entry)))
            except OSError:
                continue
    import shutil

    total = current_size + sum(size for _, _, size in others)
    removed = []
    for _, directory, size in sorted(others, key=lambda item: item[0]):
        if total <= max_bytes:
            break
        if _in_use(directory):
            continue
        shutil.rmtree(directory, ignore_errors=True)
        total -= size
        removed.append(directory.name)
    return removed
