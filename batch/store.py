"""Where a batch run keeps its results, so that no finished sample is ever lost or repeated.

data/<run_name>/
    trajectories.jsonl   one line per completed sample (append-only; the source of truth)
    failed.jsonl         one line per failed attempt, with its error (append-only)
    rollouts.jsonl       token-level records, when token capture is on (rebuilt from sessions/)
    checkpoint.json      counts and finished keys, replaced atomically (a summary for humans/tools)
    run.json             the dataset (path, sha256), --n and --shard of the run (for `hermes batch merge`)
    statistics.json      written at the end of every run, over all attempts so far
    sessions/            each sample's session event log

Each record is one `os.write` of a whole line to a file opened with O_APPEND, so a SIGKILL leaves
at most one torn last line, which is cut off the next time the run is opened.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

CHECKPOINT_EVERY = 0.5  # seconds between checkpoint rewrites; the append-only files are the truth


def repair_tail(path: Path) -> int:
    """Cut a torn last line (a kill in the middle of a write). Returns the bytes removed."""
    if not path.exists():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(max(size - 1, 0))
        if fh.read(1) == b"\n":
            return 0
        keep = size
        step = 65536
        while keep > 0:  # find the last newline, reading backwards
            start = max(keep - step, 0)
            fh.seek(start)
            chunk = fh.read(keep - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            keep = start
        fh.truncate(keep)
        return size - keep


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                records.append(json.loads(line))
    return records


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.trajectories = root / "trajectories.jsonl"
        self.failed = root / "failed.jsonl"
        self.rollouts = root / "rollouts.jsonl"
        self.checkpoint = root / "checkpoint.json"
        self.statistics = root / "statistics.json"
        self.manifest = root / "run.json"
        self.sessions = root / "sessions"
        self._lock = threading.Lock()
        self._fds: dict[Path, int] = {}
        self._last_checkpoint = 0.0
        self.completed_keys: set[str] = set()
        self.failed_keys: set[str] = set()

    # -- opening -----------------------------------------------------------------------------
    def has_results(self) -> bool:
        return any(p.exists() and p.stat().st_size > 0 for p in (self.trajectories, self.failed))

    def open(self, *, resume: bool) -> None:
        if self.has_results() and not resume:
            raise ConfigError(
                f"{self.root} already holds results of this run; add --resume to continue it "
                "(or choose another --run-name)")
        self.sessions.mkdir(parents=True, exist_ok=True)
        for path in (self.trajectories, self.failed):
            repair_tail(path)
        self.completed_keys = {r["sample_key"] for r in read_records(self.trajectories)}
        self.failed_keys = {r["sample_key"] for r in read_records(self.failed)} - self.completed_keys
        for path in (self.trajectories, self.failed):
            self._fds[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """run.json; a resumed run must keep its shard (else rows would be lost or run twice)."""
        if self.manifest.exists():
            before = json.loads(self.manifest.read_text(encoding="utf-8"))
            if before.get("shard") != manifest.get("shard"):
                raise ConfigError(f"{self.root} was run as shard {before.get('shard') or 'none'}, not "
                                  f"{manifest.get('shard') or 'none'}: resume it with the same --shard")
        write_json_atomic(self.manifest, manifest)

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    # -- writing -----------------------------------------------------------------------------
    def _append(self, path: Path, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        fd = self._fds[path]
        written = 0
        while written < len(data):  # one write in practice; loop for the rare short write
            written += os.write(fd, data[written:])

    def add_completed(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._append(self.trajectories, record)
            self.completed_keys.add(record["sample_key"])
            self.failed_keys.discard(record["sample_key"])
            self._maybe_checkpoint()

    def add_failed(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._append(self.failed, record)
            self.failed_keys.add(record["sample_key"])
            self._maybe_checkpoint()

    def _maybe_checkpoint(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_checkpoint >= CHECKPOINT_EVERY:
            self._last_checkpoint = now
            write_json_atomic(self.checkpoint, {
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "completed": len(self.completed_keys),
                "failed": len(self.failed_keys),
                "completed_keys": sorted(self.completed_keys),
                "failed_keys": sorted(self.failed_keys),
            })

    def write_checkpoint(self) -> None:
        with self._lock:
            self._maybe_checkpoint(force=True)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
