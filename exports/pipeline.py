"""Run one export: logs in, filtered sessions through one format, JSONL lines out.

One session is read, converted and written at a time, so memory stays flat however many logs
there are (grouping Atropos records by prompt is the one mode that holds records until the end).
A session that cannot be converted is reported and skipped; the others are still written.

Token formats spend most of their time converting (chat-template renders, encoding, decoding for
the secrets check), one session independent of the next (Atropos groups by prompt are put together here, at the end):
with many sessions and more than one
CPU, forked workers convert them while this process writes, in the same order and with the same
bytes and reports as one process would give (exports/workers.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from exports import FORMATS, TOKEN_FORMATS, adapters, atif, messages_ft, openai_ft, sharegpt
from exports.filters import SessionFilter
from exports.rollout import RolloutBuilder
from exports.source import Trajectory, load_trajectory
from exports.tokenizer import ChatTokenizer
from exports.workers import WORKERS_FROM, converted, worker_count
from exports.writer import JsonlWriter
from recording.redact import Redactor


@dataclass
class ExportOptions:
    fmt: str = "sharegpt"
    filter: SessionFilter = field(default_factory=SessionFilter)
    tokenizer: ChatTokenizer | None = None
    rewards: dict[str, float] = field(default_factory=dict)  # by session id; else a batch verifier's reward
    merge: bool = True  # rollout: merge calls whose prompts extend each other
    train_on: str = "all"  # openai: "all" assistant turns or only the "last"
    group_by: str = "prompt"  # atropos: "prompt" (attempts at one task form a group) or "session"
    workers: int | None = None  # token formats: processes converting sessions (None: one per CPU, up to 4)


@dataclass
class ExportReport:
    sessions: int = 0
    exported: int = 0
    records: int = 0
    tokens: int = 0  # token-level formats: tokens in the written sequences
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)  # rollout token_source counts


def _compact(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _plain(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


@dataclass
class _Pending:
    """Atropos records waiting for the other attempts at their prompt (grouped at the end)."""

    prompt: str
    records: list[tuple[dict[str, Any], Any]]


class _Exporter:
    def __init__(self, options: ExportOptions, report: ExportReport) -> None:
        if options.fmt not in FORMATS:
            raise ConfigError(f"unknown format {options.fmt!r}; choose from {', '.join(FORMATS)}")
        if options.fmt in TOKEN_FORMATS and options.tokenizer is None:
            raise ConfigError(f"--format {options.fmt} needs a tokenizer: pass --tokenizer with a local "
                              "directory or a Hugging Face name (the model's own tokenizer and chat template)")
        self.o = options
        self.report = report
        # Logs are redacted when written; this catches secrets known only now (set in this environment).
        self.redact = Redactor()
        self.builder = (RolloutBuilder(options.tokenizer, merge=options.merge, redact=self.redact)
                        if options.tokenizer else None)
        self.pending: dict[str, list[tuple[dict[str, Any], Any]]] = {}  # atropos groups by prompt

    def lines(self, t: Trajectory) -> Iterator[str]:
        fmt = self.o.fmt
        if fmt == "sharegpt":
            yield self.redact(sharegpt.dumps(sharegpt.to_record(t)))
        elif fmt == "openai":
            for record in openai_ft.to_records(t, self.o.train_on):
                yield self.redact(_plain(record))
        elif fmt == "messages":
            for record in messages_ft.to_records(t):
                yield self.redact(_plain(record))
        elif fmt == "atif":
            document = atif.to_document(t)
            if document is not None:
                yield self.redact(_plain(document))
        else:
            yield from self._token_lines(t)

    def _token_lines(self, t: Trajectory) -> Iterator[str]:
        assert self.builder is not None
        batch = t.session.batch or {}
        # a rewards file wins; else the verifier's reward a batch run logged
        records = self.builder.records(t, self.o.rewards.get(t.session_id, batch.get("reward")))
        for record in records:
            if batch.get("group"):  # `hermes batch`: which dataset row (group) and which of its K samples
                record["group_id"], record["group_sample"] = batch["group"], batch.get("sample", 0)
            self.report.tokens += len(record["tokens"])
            self.report.sources[record["token_source"]] += 1
        if self.o.fmt == "rollout":
            yield from map(_compact, records)
        elif self.o.fmt == "verl":
            yield from (_compact(adapters.verl_row(r)) for r in records)
        elif records:
            conversation = adapters.atropos_messages(t.system_prompt, t.messages)
            if self.o.group_by == "prompt":  # grouped by the writing process (see run_export)
                # a batch run's K samples of one row share its group id (duplicate prompts do not)
                group = f"batch:{batch['group']}" if batch.get("group") else t.session.first_prompt
                yield _Pending(group, [(r, conversation) for r in records])
            else:
                yield _compact(adapters.atropos_group(records, [conversation] * len(records)))

    def collect(self, pending: _Pending) -> None:
        self.pending.setdefault(pending.prompt, []).extend(pending.records)

    def finish(self) -> Iterator[str]:
        for pairs in self.pending.values():
            yield _compact(adapters.atropos_group([r for r, _ in pairs], [m for _, m in pairs]))


def _convert(exporter: _Exporter, path: Path) -> tuple[str, Any]:
    """One session: ("skip", reason), ("fail", message) or ("ok", its lines); ConfigError is raised."""
    try:
        trajectory = load_trajectory(path)
        reason = exporter.o.filter.reason_to_skip(trajectory)
        if reason is not None:
            return "skip", reason
        return "ok", list(exporter.lines(trajectory))  # convert fully before writing any of it
    except ConfigError:
        raise
    except Exception as exc:  # one bad log must not sink a 10,000-session export
        return "fail", f"{type(exc).__name__}: {exc}".splitlines()[0]


def run_export(paths: list[Path], options: ExportOptions, writer: JsonlWriter,
               on_failure: Callable[[Path, str], None] | None = None) -> ExportReport:
    report = ExportReport()
    exporter = _Exporter(options, report)
    # Atropos groups by prompt collect records across sessions: workers convert, this process groups.
    parallel = options.fmt in TOKEN_FORMATS and len(paths) >= WORKERS_FROM
    workers = worker_count(options.workers) if parallel else 1
    results = (converted(lambda p: _convert(exporter, p), paths, workers, report) if workers > 1
               else ((p, _convert(exporter, p)) for p in paths))
    with writer, closing(results):  # an error while writing stops the workers too
        for path, (kind, value) in results:
            report.sessions += 1
            if kind == "skip":
                report.skipped[value] += 1
            elif kind == "fail":
                report.failures.append((path, value))
                if on_failure:
                    on_failure(path, value)
            else:
                for line in value:
                    if isinstance(line, _Pending):
                        exporter.collect(line)
                    else:
                        writer.write(line)
                report.exported += 1
        for line in exporter.finish():
            writer.write(line)
        report.records = writer.lines
    return report


def load_rewards(path: Path) -> dict[str, float]:
    """`{"session_id": reward, ...}` or JSONL lines `{"session_id": ..., "reward": ...}`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read rewards file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    # {id: reward, ...}; a one-line JSONL file parses as a dict too, but its values are not all numbers
    if isinstance(data, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()):
        return {str(k): float(v) for k, v in data.items()}
    rewards: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            reward = row["reward"]
            if isinstance(reward, bool) or not isinstance(reward, (int, float)):
                raise TypeError(reward)
            rewards[str(row["session_id"])] = float(reward)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}:{number}: expected {{\"session_id\": ..., \"reward\": number}}") from None
    return rewards
