"""Which files under a workspace changed: a stat walk, compared before and after a terminal command.

    scan(root, max_files, skip) -> Scan    (every regular file's stat key; `over` when too many)
    diff(old, new)              -> changed, created and deleted paths

A walk stats each file once (no reads): about 1-3 ms per 1,000 files on a warm cache. Directories
that hold tools' caches or another version-control store (SKIP_DIRS) are not walked, nor are
symlinks followed; `skip` adds paths (the checkpoint store itself when it lies inside the workspace).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Not the user's work: version-control stores and caches tools rebuild. Changes inside are not tracked.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache"})

StatKey = tuple[int, int, int, int]  # mtime_ns, ctime_ns, size, inode: any write changes one of them


@dataclass
class Scan:
    root: str
    files: dict[str, StatKey] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)  # directories walked (to undo the ones a command made)
    over: bool = False  # more than max_files: the scan stopped early and tells nothing


def scan(root: str, max_files: int, skip: frozenset[str] = frozenset()) -> Scan:
    """Stat every regular file under `root` (absolute paths), stopping past `max_files`."""
    result = Scan(root)
    stack = [root]
    files = result.files
    while stack:
        directory = stack.pop()
        result.dirs.add(directory)
        try:
            entries = os.scandir(directory)
        except OSError:  # vanished or unreadable meanwhile: nothing to track there
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name not in SKIP_DIRS and entry.path not in skip:
                            stack.append(entry.path)
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue  # symlinks, sockets, fifos: not file contents we could restore
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                files[entry.path] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
                if len(files) > max_files:
                    result.over = True
                    return result
    return result


def diff(old: dict[str, StatKey], new: dict[str, StatKey]) -> list[str]:
    """Paths created, deleted or changed between two scans, sorted."""
    changed = [path for path, key in new.items() if old.get(path) != key]
    changed += [path for path in old if path not in new]
    return sorted(changed)


def new_dirs(path: str, root: str, known: set[str]) -> list[str]:
    """The directories between `root` and `path` that are not in `known`, deepest first."""
    found, parent = [], os.path.dirname(path)
    while parent.startswith(root + os.sep) and parent not in known:
        found.append(parent)
        parent = os.path.dirname(parent)
    return found
