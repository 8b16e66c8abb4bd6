"""`/rewind`: back to just before one of this session's prompts, for the files, the chat, or both.

    turn_rows(agent)                     -> the turns to choose from, numbered 1.. as listed
    rewind(agent, number, what, force)   -> what was restored (RewindError: one line saying why not)

Files come back from the checkpoints (agent/checkpoints.py), git or not. The chat is cut where the
prompt was, exactly like /undo cuts the last exchange, and logged the same way: a `history_edit`
event (action "rewind", `removed_count`, plus the turn and what happened to the files), so a resumed
session and every export leave the rewound turns out just as they leave undone ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.checkpoints import Change, Checkpoints, RewindError, RewindResult, Turn, locate_prompt

WHAT = ("both", "files", "chat")


@dataclass
class TurnRow:
    number: int
    turn: Turn
    in_chat: bool  # its prompt is still in the conversation (/undo, /retry or compression may have taken it)
    changes: list[Change] = field(default_factory=list)  # not yet rewound
    rewound: bool = False  # it changed files, and a files rewind has put them all back


@dataclass
class Outcome:
    what: str
    row: TurnRow
    files: RewindResult
    removed_messages: int


def checkpoints_of(agent: Any) -> Checkpoints:
    checkpoints = agent.tool_context.checkpoints
    if checkpoints is None:
        raise RewindError("checkpoints are off (checkpoints.enabled is false, or this agent records nothing)")
    checkpoints.use_session(agent.session_id)
    return checkpoints


def turn_rows(agent: Any) -> list[TurnRow]:
    checkpoints = checkpoints_of(agent)
    rows = []
    for number, turn in enumerate(checkpoints.live_turns(), 1):
        made = checkpoints.changes_of(turn)
        changes = [c for c in made if not c.undone]
        rows.append(TurnRow(number, turn, locate_prompt(agent.messages, turn) is not None, changes,
                            bool(made) and not changes))
    return rows


def parse(arg: str) -> tuple[int, str, bool]:
    """`N [files|chat|both] [force]` -> (N, what, force); ValueError with the usage otherwise."""
    words = arg.lower().split()
    force = "force" in words
    words = [w for w in words if w != "force"]
    if not words or not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1] not in WHAT):
        raise ValueError("usage: /rewind N [files|chat|both] [force]  (N from the /rewind list; both is the default)")
    return int(words[0]), words[1] if len(words) == 2 else "both", force


def rewind(agent: Any, number: int, what: str = "both", force: bool = False) -> Outcome:
    """Rewind to just before turn `number` (as listed by turn_rows)."""
    checkpoints = checkpoints_of(agent)
    rows = turn_rows(agent)
    if not rows:
        raise RewindError("nothing to rewind yet: no prompt has been sent in this session")
    if not 1 <= number <= len(rows):
        raise RewindError(f"no turn {number}: choose 1 to {len(rows)} (/rewind lists them)")
    row = rows[number - 1]
    files, chat = what in ("files", "both"), what in ("chat", "both")
    cut = None
    if chat:
        cut = locate_prompt(agent.messages, row.turn)
        if cut is None:
            raise RewindError(f"turn {number} is no longer in the conversation (/undo, /retry or compression took "
                              f"it out); /rewind {number} files still restores the files")
    result = checkpoints.rewind(row.turn, files=files, chat=chat, force=force)
    removed = 0
    if cut is not None:
        removed = len(agent.messages) - cut
        del agent.messages[cut:]
    agent.record_history_change(
        "history_edit", action="rewind", removed_count=removed, turn=number, restore=what,
        files={"restored": result.restored, "deleted": result.deleted, "conflicts": result.conflicts,
               "forced": result.forced, "unsaved": result.unsaved, "failed": result.failed},
    )
    return Outcome(what, row, result, removed)
