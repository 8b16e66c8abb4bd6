"""A working directory of its own for each sample of a group (`--n K`, K > 1, local backend).

The K samples of a row run at the same time; in one shared directory one sample's files clobber
another's and their rewards mean nothing. So each gets a private directory: a copy of the row's
`cwd` when it sets one (the row's directory is the task's template and is never written to),
else an empty one. It lives in the temp dir under a `hermes-env-*` parent holding the owner
record (so a `kill -9`ed runner's leftovers are reaped like the terminal's own state dirs, and the
record stays out of the sample's sight) and is removed when the sample is done, after its verifier.
With K = 1 nothing changes: the row's `cwd`, else `terminal.cwd`, as before.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tools.environments import reaper


class SampleDir:
    """Made by `make()`; `path` is the sample's start directory, `remove()` deletes it."""

    def __init__(self, template: str | None) -> None:
        self._parent = tempfile.mkdtemp(prefix="hermes-env-sample-")
        reaper.mark_dir(self._parent)
        work = Path(self._parent, "work")
        if template:
            shutil.copytree(Path(template).expanduser(), work, symlinks=True)
        else:
            work.mkdir()
        self.path = str(work)

    def remove(self) -> None:
        shutil.rmtree(self._parent, ignore_errors=True)


def needs_own_dir(n: int, backend: str) -> bool:
    """Only where samples share the host's file system: the local backend, with K > 1."""
    return n > 1 and backend == "local"
