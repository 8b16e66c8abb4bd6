"""What a batch sample adds to its own session log, so exports need nothing but the logs.

One `batch_sample` event, written before the agent closes its log: the sample's group id (its
dataset row), its index among the row's K samples, and the verifier's reward. `hermes export`
groups Atropos records by the group id and takes the reward from it (exports/pipeline.py).
"""

from __future__ import annotations

from typing import Any


def note_sample(agent: Any, **fields: Any) -> None:
    # The recorder is the agent's; batch is its one outside writer, so no public method on AIAgent
    # (run_agent.py stays small). No recorder (recording off or failed): nothing to note.
    recorder = getattr(agent, "_recorder", None)
    if recorder is not None:
        recorder.record_event("batch_sample", **fields)
