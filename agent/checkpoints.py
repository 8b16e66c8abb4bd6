"""Checkpoints: what a tool is about to change is saved first, so `/rewind` can put it back.

Each prompt the user sends starts a turn (`begin_turn`). Before `write_file` or `patch` changes a
file (`file_change`), and around each terminal command in the local workspace (`command`), the
content a file had is saved (agent/checkpoint_store.py) with a `change` record: path, the state
before and after (a content digest, ABSENT, or UNSAVED when too big), the mode, the directories a
write created. `rewind(turn)` undoes every change from that turn on, newest last-written state
first checked: a file changed since by something else is reported and left alone unless forced.

Terminal commands are watched by a stat walk of the workspace before and after each command
(tools/workspace_snapshot.py); the first command of a process copies the workspace's files into
the store (once: later copies are only of files that changed), so a change can be undone. Not
covered: remote backends (docker, ssh, modal, singularity), files outside the workspace, background
commands after they return, the SKIP_DIRS (.git, node_modules, ...), symlinks, empty directories
a command creates, and workspaces over `checkpoints.terminal_max_files` files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.checkpoint_store import ABSENT, UNSAVED, SessionStore, others_size, prune_others

MB = 1024 * 1024
PROMPT_CHARS = 200


@dataclass
class Turn:
    id: int  # 1, 2, ... in the order prompts were sent in this session
    time: str
    prompt: str  # its first PROMPT_CHARS characters
    digest: str  # of the whole prompt, to find it in the conversation again
    message_index: int  # where it was in the conversation when sent
    removed: bool = False  # a chat rewind took it out of the conversation


@dataclass
class Change:
    seq: int
    turn: int
    path: str
    tool: str
    before: str  # a blob digest, ABSENT or UNSAVED
    after: str
    mode: int | None = None  # the file's mode before, when it existed
    dirs: list[str] = field(default_factory=list)  # directories the change created, deepest first
    undone: bool = False  # a files rewind put it back

    @property
    def action(self) -> str:
        return "created" if self.before == ABSENT else "deleted" if self.after == ABSENT else "modified"


@dataclass
class RewindResult:
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # changed since by something else: left alone
    forced: list[str] = field(default_factory=list)  # changed since, overwritten (a copy was saved)
    unsaved: list[str] = field(default_factory=list)  # too big to have been saved: left as they are
    failed: list[str] = field(default_factory=list)  # "path: reason"


class RewindError(Exception):
    """The rewind cannot be done as asked (one line for the user)."""


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def prompt_digest(content: Any) -> str:
    return hashlib.sha256(repr(content).encode("utf-8", "surrogateescape")).hexdigest()[:16]


class Checkpoints:
    """The checkpoints of the agent's current session (its id can change: /new, a resume)."""

    def __init__(self, settings: Any, home: Path, skip: tuple[Path, ...] = ()) -> None:
        self.settings = settings  # agent.settings.schema.CheckpointSettings
        self.root = home / "checkpoints"
        self._skip = frozenset(str(p) for p in (*skip, self.root))
        self._lock = threading.RLock()
        self.session_id: str | None = None
        self._store: SessionStore | None = None
        self.turns: list[Turn] = []
        self.changes: list[Change] = []
        self._seq = 0
        self._turn = 0  # the turn changes belong to now
        self.pruned_before = 0  # changes of turns before this one were pruned
        self._others: int | None = None  # bytes of other sessions' checkpoints, once measured
        # Terminal watching: path -> (stat key, state, mode, place in the workspace pack) as last seen.
        self._baseline: dict[str, tuple[Any, ...]] | None = None
        self._baseline_root: str | None = None
        self._baseline_dirs: set[str] = set()
        self.terminal_note: str | None = None  # why terminal commands are not watched
        self._in_flight = 0

    # -- sessions and turns --------------------------------------------------------------------
    def use_session(self, session_id: str) -> None:
        """Load `session_id`'s checkpoints (after a resume they carry on)."""
        with self._lock:
            if session_id == self.session_id:
                return
            if self._store is not None:
                self._store.close()
            self.session_id, self._store = session_id, SessionStore(self.root, session_id)
            self.turns, self.changes, self._seq, self._turn, self.pruned_before = [], [], 0, 0, 0
            self._baseline = self._baseline_root = None
            by_seq: dict[int, Change] = {}
            for record in self._store.records():
                kind = record.get("kind")
                if kind == "turn":
                    self.turns.append(Turn(record["turn"], record["time"], record["prompt"], record["digest"],
                                           record["message_index"]))
                elif kind == "change":
                    change = Change(record["seq"], record["turn"], record["path"], record["tool"], record["before"],
                                    record["after"], record.get("mode"), record.get("dirs") or [])
                    self.changes.append(change)
                    by_seq[change.seq] = change
                elif kind == "rewind":
                    for seq in record.get("undone") or []:
                        if seq in by_seq:
                            by_seq[seq].undone = True
                    if record.get("chat_from") is not None:
                        for turn in self.turns:
                            turn.removed = turn.removed or turn.id >= record["chat_from"]
                elif kind == "pruned":
                    self.pruned_before = max(self.pruned_before, int(record.get("before_turn") or 0))
            self._seq = max((c.seq for c in self.changes), default=0)
            self._turn = max((t.id for t in self.turns), default=0)

    def begin_turn(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """The prompt at the end of `messages` was sent: the tool changes that follow belong to a new turn."""
        message_index, content = len(messages) - 1, messages[-1].get("content")
        with self._lock:
            try:
                self.use_session(session_id)
            except OSError:  # an unreadable index: this session's earlier checkpoints are out of reach
                self.turns, self.changes = [], []
            from recording.sharegpt import text_of

            text = text_of(content)  # content parts (an image beside the text) keep their text
            turn = Turn(self._turn + 1, _now(), text[:PROMPT_CHARS], prompt_digest(content), message_index)
            self.turns.append(turn)
            self._turn = turn.id
            try:
                self._open().append({"kind": "turn", "turn": turn.id, "time": turn.time, "prompt": turn.prompt,
                                     "digest": turn.digest, "message_index": message_index})
            except OSError:
                pass  # a read-only home: no checkpoints, the turn goes on

    def _open(self) -> SessionStore:
        assert self._store is not None
        self._store.open()
        return self._store

    @property
    def active(self) -> bool:
        return self.session_id is not None and self._turn > 0

    # -- what a file holds -----------------------------------------------------------------------
    def _read(self, path: str) -> tuple[str, int | None, bytes | None]:
        """(state, mode, content) of a regular file: state is its digest, ABSENT or UNSAVED."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return ABSENT, None, None
        except OSError:
            return UNSAVED, None, None
        if not stat.S_ISREG(st.st_mode):
            return UNSAVED, None, None
        mode = stat.S_IMODE(st.st_mode)
        if st.st_size > self.settings.max_file_mb * MB:
            return UNSAVED, mode, None
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return UNSAVED, mode, None
        return hashlib.sha256(data).hexdigest(), mode, data

    def _state(self, path: str, save: bool = True) -> tuple[str, int | None]:
        """(state, mode) of a file; with `save` its content is stored (a blob named by the digest)."""
        state, mode, data = self._read(path)
        if save and data is not None:
            self._open().put(data)
        return state, mode

    def _copy(self, path: str, key: tuple[int, int, int, int]) -> tuple[Any, ...]:
        """A workspace-copy entry: (stat key, state, mode, place in the pack or None)."""
        state, mode, data = self._read(path)
        return key, state, mode, self._open().pack_add(data) if data is not None else None

    def _record(self, path: str, tool: str, before: str, after: str, mode: int | None,
                dirs: list[str] | None = None) -> None:
        self._seq += 1
        change = Change(self._seq, self._turn, path, tool, before, after, mode, dirs or [])
        self.changes.append(change)
        self._open().append({"kind": "change", "seq": change.seq, "turn": change.turn, "path": path, "tool": tool,
                             "before": before, "after": after, "mode": mode, "dirs": change.dirs})

    # -- hooks the tools call --------------------------------------------------------------------
    @contextmanager
    def file_change(self, path: str, tool: str) -> Iterator[None]:
        """Around a file tool's write of `path`: save what it held, record the change if it happened."""
        if not self.active:
            yield
            return
        real = os.path.realpath(path)  # the file tools write through symlinks
        with self._lock:
            try:
                before, mode = self._state(real)
            except OSError:  # cannot save (a read-only home): the write goes on, unrecorded
                before, mode = "", None
        dirs, parent = [], os.path.dirname(real)
        while parent and not os.path.exists(parent):
            dirs.append(parent)
            parent = os.path.dirname(parent)
        yield
        if not before:
            return
        with self._lock:
            try:
                after, _ = self._state(real, save=False)
                if after != before:
                    self._record(real, tool, before, after, mode, dirs)
                    self._note_baseline(real)
                    self._enforce_budget()
            except OSError:
                pass

    @contextmanager
    def command(self, root: str) -> Iterator[None]:
        """Around a terminal command: files under `root` it created, changed or deleted are recorded."""
        if not (self.active and self.settings.terminal):
            yield
            return
        with self._lock:
            self._in_flight += 1
            if self._in_flight == 1:  # with commands in parallel, their changes are theirs: no refresh
                self._refresh(root)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._after_command(root)

    # -- terminal watching -----------------------------------------------------------------------
    def _scan(self, root: str) -> Any:
        from tools.workspace_snapshot import scan

        result = scan(root, self.settings.terminal_max_files, self._skip)
        if result.over:
            self._drop_copy()
            self.terminal_note = (f"terminal commands are not tracked: {root} has more than "
                                  f"{self.settings.terminal_max_files} files (checkpoints.terminal_max_files)")
            return None
        return result

    def _refresh(self, root: str) -> None:
        """Bring the copy of the workspace up to date (changes made between commands are not the command's)."""
        try:
            if self._baseline_root != root:
                self._baseline, self._baseline_root, self.terminal_note = None, root, None
                scanned = self._scan(root)
                if scanned is None:
                    return
                files, self._baseline_dirs = scanned.files, scanned.dirs
                total = sum(key[2] for key in files.values())
                if total > self.settings.max_size_mb * MB / 4:
                    self.terminal_note = (f"terminal commands are not tracked: {root} holds {total / MB:.0f} MB, "
                                          f"over a quarter of checkpoints.max_size_mb")
                    return
                self._open().pack_reset()
                self._baseline = {path: self._copy(path, key) for path, key in files.items()}
                self._enforce_budget()
                return
            if self._baseline is None:
                return
            self._update(root, record=False)
        except OSError as exc:
            self._drop_copy()
            self.terminal_note = f"terminal commands are not tracked: {exc}"

    def _after_command(self, root: str) -> None:
        if self._baseline is None or self._baseline_root != root:
            return
        try:
            self._update(root, record=True)
            self._enforce_budget()
        except OSError as exc:
            self._drop_copy()
            self.terminal_note = f"terminal commands are not tracked: {exc}"

    def _update(self, root: str, record: bool) -> None:
        from tools.workspace_snapshot import diff, new_dirs

        assert self._baseline is not None
        scanned = self._scan(root)
        if scanned is None:
            return
        files, known_dirs = scanned.files, self._baseline_dirs
        self._baseline_dirs = scanned.dirs
        for path in diff({p: v[0] for p, v in self._baseline.items()}, files):
            old = self._baseline.get(path)
            before, mode, place = (old[1], old[2], old[3]) if old else (ABSENT, None, None)
            if path in files:
                entry = self._baseline[path] = self._copy(path, files[path])
                after, new_mode = entry[1], entry[2]
            else:
                self._baseline.pop(path, None)
                after, new_mode = ABSENT, None
            if record and (after != before or (after != ABSENT and new_mode != mode)):  # chmod counts
                if place is not None:  # what the command changed: from the workspace copy to a blob
                    self._open().put(self._open().pack_read(*place))
                dirs = new_dirs(path, root, known_dirs) if before == ABSENT else []
                self._record(path, "terminal", before, after, mode, dirs)

    def _note_baseline(self, path: str) -> None:
        """A file tool wrote `path`: the workspace copy takes its new content now."""
        if self._baseline is None or not path.startswith(f"{self._baseline_root}{os.sep}"):
            return
        try:
            st = os.stat(path)
            self._baseline[path] = self._copy(path, (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
        except OSError:
            self._baseline.pop(path, None)

    def _drop_copy(self) -> None:
        self._baseline = None
        if self._store is not None:
            self._store.pack_drop()

    # -- the size bound --------------------------------------------------------------------------
    def _enforce_budget(self) -> None:
        """Keep all checkpoints under checkpoints.max_size_mb: other sessions go first (oldest first),
        then this session's oldest turns, then the copy of the workspace (terminal watching stops)."""
        store, limit = self._open(), int(self.settings.max_size_mb * MB)
        assert self.session_id is not None
        if self._others is None:
            self._others = others_size(self.root, self.session_id)
        if (store.size or 0) + self._others <= limit:
            return
        prune_others(self.root, self.session_id, limit, store.size or 0)
        self._others = others_size(self.root, self.session_id)
        turn_ids = sorted({c.turn for c in self.changes})
        while (store.size or 0) + self._others > limit and turn_ids:
            oldest = turn_ids.pop(0)
            if oldest == self._turn and self._baseline is None:
                break  # the turn in progress keeps its changes: they are what a rewind needs most
            if oldest != self._turn:
                self.changes = [c for c in self.changes if c.turn != oldest]
                self.pruned_before = max(self.pruned_before, oldest + 1)
                self._compact(store)
            else:
                self._drop_copy()
                self._baseline_root = None
                self.terminal_note = ("terminal commands are no longer tracked: the copy of the workspace "
                                      "does not fit in checkpoints.max_size_mb")
                self._compact(store)

    def _compact(self, store: SessionStore) -> None:
        keep = {s for c in self.changes for s in (c.before, c.after)}
        records = [r for r in store.records() if r.get("kind") != "change" or r.get("turn", 0) >= self.pruned_before]
        records.append({"kind": "pruned", "before_turn": self.pruned_before, "time": _now()})
        store.rewrite(records)
        store.gc(keep)

    # -- /rewind -----------------------------------------------------------------------------------
    def live_turns(self) -> list[Turn]:
        """Turns still in the conversation's past (not taken out by a chat rewind), in order."""
        return [t for t in self.turns if not t.removed]

    def changes_of(self, turn: Turn) -> list[Change]:
        return [c for c in self.changes if c.turn == turn.id]

    def rewind(self, turn: Turn, *, files: bool, chat: bool, force: bool = False) -> RewindResult:
        """Undo every change from `turn` on (files), mark the later turns gone (chat); record it."""
        with self._lock:
            result = RewindResult()
            undone: list[int] = []
            if files:
                if turn.id < self.pruned_before:
                    raise RewindError(f"the file checkpoints of that turn were pruned to stay under "
                                      f"checkpoints.max_size_mb; {self._first_kept()}")
                pending = [c for c in self.changes if c.turn >= turn.id and not c.undone]
                result = self._restore(pending, force)
                kept = set(result.conflicts)  # still to undo: a forced rewind can do it later
                undone = [c.seq for c in pending if c.path not in kept]
                for change in pending:
                    change.undone = change.path not in kept
            if chat:
                for later in self.turns:
                    later.removed = later.removed or later.id >= turn.id
            self._open().append({"kind": "rewind", "time": _now(), "turn": turn.id, "files": files, "chat": chat,
                                 "undone": undone, "chat_from": turn.id if chat else None,
                                 "restored": result.restored, "deleted": result.deleted,
                                 "conflicts": result.conflicts, "forced": result.forced})
            return result

    @staticmethod
    def _mode(path: str) -> int | None:
        try:
            return stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            return None

    def _first_kept(self) -> str:
        live = self.live_turns()
        kept = [number for number, t in enumerate(live, 1) if t.id >= self.pruned_before]
        return f"the earliest turn whose files can be rewound is {kept[0]}" if kept else "no turn can be"

    def _restore(self, pending: list[Change], force: bool) -> RewindResult:
        from tools.environments.files import atomic_write

        result = RewindResult()
        first: dict[str, Change] = {}
        last: dict[str, Change] = {}
        for change in pending:
            first.setdefault(change.path, change)
            last[change.path] = change
        for path, change in first.items():
            target, expected = change.before, last[path].after
            current, _ = self._state(path, save=False)
            if current == target:  # the content is as it was (created then deleted; a chmod)
                if change.mode is not None and target != ABSENT and self._mode(path) != change.mode:
                    os.chmod(path, change.mode)
                    result.restored.append(path)
                continue
            if current != expected and expected != UNSAVED:
                if not force:
                    result.conflicts.append(path)
                    continue
                if current != ABSENT:
                    self._state(path)  # keep what the rewind overwrites
                result.forced.append(path)
            try:
                if target == ABSENT:
                    os.unlink(path)
                    result.deleted.append(path)
                elif target == UNSAVED:
                    result.unsaved.append(path)
                    continue
                else:
                    data = self._open().get(target)
                    if data is None:
                        result.failed.append(f"{path}: its saved content is missing from the checkpoint store")
                        continue
                    atomic_write(path, data)
                    if change.mode is not None:
                        os.chmod(path, change.mode)
                    result.restored.append(path)
            except OSError as exc:
                result.failed.append(f"{path}: {exc.strerror or exc}")
        for change in reversed(pending):  # directories a write created, if nothing else is in them now
            for directory in change.dirs:
                try:
                    os.rmdir(directory)
                except OSError:
                    break
        return result


def locate_prompt(messages: list[dict[str, Any]], turn: Turn) -> int | None:
    """Where `turn`'s prompt is in the conversation now (compression moves it up), or None."""
    from recording.reader import is_prompt

    def matches(index: int) -> bool:
        message = messages[index]
        return is_prompt(message) and prompt_digest(message.get("content")) == turn.digest

    if turn.message_index < len(messages) and matches(turn.message_index):
        return turn.message_index
    for index in range(min(turn.message_index, len(messages)) - 1, -1, -1):
        if matches(index):
            return index
    return None


def for_agent(settings: Any, *, record: bool, mode: str) -> Checkpoints | None:
    """The agent's checkpoints; None when off (checkpoints.enabled, batch runs, unrecorded agents)."""
    if not settings.checkpoints.enabled or not record or mode == "batch":
        return None
    return Checkpoints(settings.checkpoints, settings.home, (settings.home, settings.log_dir))


def file_change(ctx: Any, files: Any, path: str, tool: str) -> AbstractContextManager[None]:
    """What write_file and patch wrap their write in (local files only)."""
    checkpoints = getattr(ctx, "checkpoints", None)
    if checkpoints is None or files.remote:
        return nullcontext()
    return checkpoints.file_change(path, tool)


def terminal_command(ctx: Any, env: Any) -> AbstractContextManager[None]:
    """What the terminal tool wraps a foreground command in (the local backend only)."""
    checkpoints = getattr(ctx, "checkpoints", None)
    if checkpoints is None or env.backend != "local":
        return nullcontext()
    from tools.environments.manager import workspace_root

    return checkpoints.command(os.path.realpath(workspace_root(ctx.task_id, ctx.terminal)))
