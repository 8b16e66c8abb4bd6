"""Files hermes writes about a session (logs, the ShareGPT file, /save, exports) are private:
0600 files in 0700 directories, whatever the umask, because they hold whole conversations."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 (existing directories are left as they are)."""
    missing = []
    for parent in (path, *path.parents):
        if parent.is_dir():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """os.open with mode 0600 (also when the umask would allow less restriction)."""
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode on open: make it private too
    return fd


def write_private(path: Path, text: str) -> None:
    """Write `text` atomically (temp file + rename) as a 0600 file."""
    write_private_bytes(path, text.encode("utf-8", "replace"))


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write `data` atomically (temp file + rename) as a 0600 file: readers never see half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(open_private(tmp), "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
