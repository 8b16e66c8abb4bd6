"""JSONL output: stdout (`-`), a file written atomically (temp file + rename), or gzip for `.gz`."""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from recording.private import private_dir


class JsonlWriter:
    """Use as a context manager; the file appears only when the block finishes without an error.

    The file is 0600 (mkstemp's mode, kept on purpose): an export holds whole conversations."""

    def __init__(self, output: str | None) -> None:
        self.output = output if output not in (None, "") else "-"
        self.lines = 0
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None
        self._raw: Any = None

    @property
    def to_stdout(self) -> bool:
        return self.output == "-"

    def __enter__(self) -> JsonlWriter:
        if self.to_stdout:
            self._fh = sys.stdout
            return self
        target = Path(self.output).expanduser()
        private_dir(target.parent)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self._tmp = Path(name)
        if target.name.endswith(".gz"):
            self._raw = os.fdopen(fd, "wb")
            self._fh = gzip.open(self._raw, "wt", encoding="utf-8", compresslevel=6)
        else:
            self._fh = os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20)
        return self

    def write(self, line: str) -> None:
        assert self._fh is not None
        self._fh.write(line + "\n")
        self.lines += 1

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.to_stdout:
            sys.stdout.flush()
            return
        assert self._fh is not None and self._tmp is not None
        try:
            self._fh.close()
            if self._raw is not None:
                self._raw.close()  # GzipFile leaves the file it wraps open
            if exc_type is None:
                os.replace(self._tmp, Path(self.output).expanduser())
        finally:
            if self._tmp.exists():
                self._tmp.unlink()
