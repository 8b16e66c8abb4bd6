"""`/rewind` (issue 18): list this session's turns, then restore the files, the chat, or both."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.rewind import Outcome, TurnRow
    from hermes_cli.repl.app import Repl

ASK_TIMEOUT = 120.0
SHOWN_FILES = 3


def _short(path: str) -> str:
    """Relative to the current directory when under it, else as is."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _files_cell(row: TurnRow) -> str:
    if not row.changes:
        return "(files rewound)" if row.rewound else "—"
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for change in row.changes:  # per file, from its state before the turn to its state after
        first.setdefault(change.path, change.before)
        last[change.path] = change.after
    items = []
    for path, before in first.items():
        action = " (created)" if before == "-" else " (deleted)" if last[path] == "-" else ""
        items.append(_short(path) + action)
    more = f" +{len(items) - SHOWN_FILES} more" if len(items) > SHOWN_FILES else ""
    return ", ".join(items[:SHOWN_FILES]) + more


def _prompt_cell(row: TurnRow) -> str:
    text = " ".join(row.turn.prompt.split())
    text = text if len(text) <= 48 else text[:47] + "…"
    return text if row.in_chat else f"{text} (not in the chat)"


def _report(repl: Repl, outcome: Outcome) -> None:
    result, renderer = outcome.files, repl.renderer
    parts = []
    if outcome.what in ("files", "both"):
        done = [f"restored {_short(p)}" for p in result.restored] + [f"deleted {_short(p)}" for p in result.deleted]
        parts.append("files: " + (", ".join(done) if done else "nothing to change"))
    if outcome.what in ("chat", "both"):
        parts.append(f"chat: removed turn {outcome.row.number} and after ({outcome.removed_messages} messages)")
    renderer.info(f"rewound to before turn {outcome.row.number}. " + "; ".join(parts))
    for path in result.conflicts:
        renderer.warn(f"kept {_short(path)}: it was changed since by something other than hermes "
                      f"(/rewind {outcome.row.number} files force overwrites it; its content is saved first)")
    for path in result.forced:
        renderer.warn(f"overwrote {_short(path)}, which had changed since (its content is kept in the checkpoints)")
    for path in result.unsaved:
        renderer.warn(f"cannot restore {_short(path)}: its earlier content was too big to save "
                      "(checkpoints.max_file_mb)")
    for line in result.failed:
        renderer.error(f"cannot restore {line}")


class RewindCommands:
    repl: Repl

    def cmd_rewind(self, arg: str) -> None:
        """Go back to before a turn: /rewind lists them; /rewind N [files|chat|both] restores"""
        from agent.checkpoints import RewindError
        from agent.rewind import parse, rewind, turn_rows

        repl = self.repl
        try:
            if not arg:
                arg = self._rewind_choice(turn_rows(repl.agent))
                if not arg:
                    return
            number, what, force = parse(arg)
            outcome = rewind(repl.agent, number, what, force)
        except (ValueError, RewindError) as exc:
            repl.renderer.warn(str(exc))
            return
        except OSError as exc:  # the checkpoint store itself (full disk, permissions)
            repl.renderer.error(f"rewind failed: {exc.strerror or exc} ({exc.filename or 'checkpoint store'})")
            return
        _report(repl, outcome)

    def _rewind_choice(self, rows: list[TurnRow]) -> str:
        """Show the turns and ask which one; '' when there is none or the user cancels."""
        from hermes_cli.repl.approval import ask_with_prompt_toolkit

        repl = self.repl
        if not rows:
            repl.renderer.info("nothing to rewind yet: no prompt has been sent in this session")
            return ""
        table = [[str(r.number), r.turn.time[11:16], _prompt_cell(r), _files_cell(r)] for r in rows]
        repl.renderer.table("Turns", ["#", "time", "prompt", "files changed"], table)
        note = repl.agent.tool_context.checkpoints.terminal_note
        if note:
            repl.renderer.info(note)
        with repl.renderer.paused():
            try:
                answer = ask_with_prompt_toolkit(
                    "rewind to before turn N: `N` (files and chat), `N files` or `N chat`; Enter cancels: ",
                    ASK_TIMEOUT)
            except (KeyboardInterrupt, EOFError):
                answer = ""
        if not answer.strip():
            repl.renderer.info("rewind cancelled")
        return answer.strip()
