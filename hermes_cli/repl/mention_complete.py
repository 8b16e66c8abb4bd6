"""Tab completion of paths after `@` in a prompt (`explain @src/ap<Tab>`), relative to the working directory."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from prompt_toolkit.completion import Completion

PARTIAL = re.compile(r'(?:^|(?<=\s))@(\S*)$')
LIMIT = 200  # entries listed per directory: a huge directory must not stall typing
SKIP = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", ".venv"}


def mention_completions(text_before_cursor: str, cwd: Path) -> Iterator[Completion]:
    """Completions for the `@partial` the cursor is at the end of; nothing when it is not at one."""
    match = PARTIAL.search(text_before_cursor)
    if match is None:
        return
    partial = match.group(1)
    head, _, prefix = partial.rpartition("/")
    head = head + "/" if "/" in partial else ""
    directory = cwd / os.path.expanduser(head) if head else cwd
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    shown = 0
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or name in SKIP or (name.startswith(".") and not prefix.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        suffix = "/" if is_dir else ""
        yield Completion(f"{head}{name}{suffix}", start_position=-len(partial), display=name + suffix)
        shown += 1
        if shown >= LIMIT:
            return
