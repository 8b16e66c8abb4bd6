"""ShareGPT records in the Hermes dialect, byte for byte as Hermes-Agent saves them (formats.md §1).

The turns come from `recording.sharegpt` (the same converter the live session file uses): the
system turn is regenerated from the tool schemas, so no system prompt, ephemeral or not, is copied.
"""

from __future__ import annotations

import json
from typing import Any

from exports.source import Trajectory
from recording.sharegpt import to_sharegpt


def to_record(trajectory: Trajectory) -> dict[str, Any]:
    """Upstream's record plus `compacted` (true: a human turn "[Summary of earlier conversation: …"
    is the agent's summary, not the user). It is on every record, so files of different runs
    share one schema; the turns themselves are byte-identical to upstream's."""
    record = {
        "conversations": to_sharegpt(trajectory.messages, trajectory.tools),
        "timestamp": trajectory.finished_at or "",
        "model": trajectory.model,
        "completed": trajectory.completed,
        "compacted": bool(trajectory.session.compactions),
    }
    return record


def dumps(record: dict[str, Any]) -> str:
    """The line upstream writes: default separators, UTF-8 kept as is."""
    return json.dumps(record, ensure_ascii=False)
