"""rollouts.jsonl for a batch run: token-level records rebuilt from the samples' session logs.

The session logs hold the token ids and logprobs the endpoint returned, so the rollout file can be
regenerated at any time; it is rewritten whole (atomically) at the end of each run, over every
completed sample so far.
"""

from __future__ import annotations

from batch.store import RunStore, read_records


def export_rollouts(store: RunStore, tokenizer_name: str) -> tuple[int, int]:
    """Returns (records written, sessions that failed to convert)."""
    from exports.pipeline import ExportOptions, run_export
    from exports.tokenizer import load_tokenizer
    from exports.writer import JsonlWriter

    sessions = [store.sessions / f"session_{r['session_id']}.jsonl" for r in read_records(store.trajectories)]
    sessions = [path for path in sessions if path.exists()]
    options = ExportOptions(fmt="rollout", tokenizer=load_tokenizer(tokenizer_name))
    report = run_export(sessions, options, JsonlWriter(str(store.rollouts)))
    return report.records, len(report.failures)


def export_hint(store: RunStore) -> str:
    return (f"token ids are in {store.sessions}/; write rollouts with "
            f"`hermes export {store.sessions} --format rollout --tokenizer NAME`")



