"""Reap what a killed hermes left behind (`kill -9` skips every cleanup path).

Each docker container carries labels naming its owner (pid, process start time, host) and each
local `hermes-env-*` temp dir holds an owner record file. The first environment a process creates
removes those whose owner no longer exists. Owner = pid AND start time from /proc/<pid>/stat, so a
reused pid does not keep a leftover alive; nothing is ever touched by name prefix alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OWNER_FILE = ".hermes-owner"
LABEL_PID, LABEL_START, LABEL_HOST = "hermes.owner_pid", "hermes.owner_start", "hermes.owner_host"
_lock = threading.Lock()
_reaped: set[str] = set()  # what this process already swept ("local:<tmp>", "docker:<host>")


@dataclass(frozen=True)
class Owner:
    pid: int
    start: str  # field 22 of /proc/<pid>/stat: clock ticks after boot
    host: str


def start_time(pid: int) -> str | None:
    """The process's start time from /proc, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and ')'
    return fields[19] if len(fields) > 19 else None


@cache
def me() -> Owner:
    pid = os.getpid()
    return Owner(pid, start_time(pid) or "", socket.gethostname())


def is_dead(owner: Owner) -> bool:
    """True only when the owner ran on this host and that exact process is gone."""
    if owner.host != me().host or owner.pid <= 0 or not owner.start:  # no /proc: never guess
        return False
    return start_time(owner.pid) != owner.start


def docker_labels() -> list[str]:
    owner = me()
    return ["--label", f"{LABEL_PID}={owner.pid}", "--label", f"{LABEL_START}={owner.start}",
            "--label", f"{LABEL_HOST}={owner.host}"]


def mark_dir(path: str) -> None:
    """Record this process as the owner of a temp dir it made."""
    owner = me()
    Path(path, OWNER_FILE).write_text(json.dumps({"pid": owner.pid, "start": owner.start, "host": owner.host}),
                                      encoding="utf-8")


def _once(key: str) -> bool:
    with _lock:
        if key in _reaped:
            return False
        _reaped.add(key)
        return True


def reap_temp_dirs(tmp: str | None = None) -> list[str]:
    """Remove `hermes-env-*` dirs in the temp dir whose owner record names a dead process (once per process)."""
    base = Path(tmp or tempfile.gettempdir())
    if not _once(f"local:{base}"):
        return []
    removed = []
    for path in base.glob("hermes-env-*"):
        try:
            record = json.loads((path / OWNER_FILE).read_text())
            owner = Owner(int(record["pid"]), str(record["start"]), str(record["host"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no (readable) owner record: not provably ours to remove
        if is_dead(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def reap_containers(docker: str, daemon: str = "") -> list[str]:
    """`docker rm -f` containers whose owner labels name a dead process (once per daemon per process)."""
    if not _once(f"docker:{daemon}"):
        return []
    fmt = f'{{{{.ID}}}} {{{{.Label "{LABEL_PID}"}}}} {{{{.Label "{LABEL_START}"}}}} {{{{.Label "{LABEL_HOST}"}}}}'
    try:
        proc = subprocess.run([docker, "ps", "-a", "--filter", f"label={LABEL_PID}", "--format", fmt],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return []
    dead = []
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        if is_dead(Owner(int(parts[1]), parts[2], parts[3])):
            dead.append(parts[0])
    if dead:
        from tools.environments.remote import run_to_completion

        run_to_completion([docker, "rm", "-f", *dead], timeout=60)
    return dead
