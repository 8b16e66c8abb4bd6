"""`hermes batch merge OUT_DIR SHARD_DIR...`: the runs of `--shard i/N` on N machines -> one run.

Before writing anything it checks the shards against the dataset they ran (run.json names it and
its sha256; `--dataset` points at a copy elsewhere): every sample (row x --n) must be in exactly
one shard, completed or failed. Missing, duplicated and unexpected samples are listed (row,
sample index, prompt) and the merge exits 1 without writing. Otherwise OUT_DIR gets the shards'
trajectories (in dataset order), their latest failures, their session logs (hard links where
possible), rollouts.jsonl if the shards wrote one, and fresh statistics.json / checkpoint.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from batch.dataset import Sample, expand, load_dataset
from batch.stats import run_statistics
from batch.store import RunStore, read_records, write_json_atomic

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2
SHOWN = 20  # problems listed per kind; the counts say how many more


def dataset_digest(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hermes batch merge",
                                description="Merge the run directories of `hermes batch --shard i/N` into one run.")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="the merged run's directory (new or empty)")
    p.add_argument("shards", type=Path, nargs="+", metavar="SHARD_DIR", help="one run directory per shard")
    p.add_argument("--dataset", type=Path, help="the dataset the shards ran (default: the path in their run.json)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary")
    return p


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        return merge(args.out, args.shards, args.dataset, quiet=args.quiet)
    except ConfigError as exc:
        sys.stderr.write("".join(f"hermes batch merge: error: {line}\n" for line in str(exc).splitlines()))
        return EXIT_USAGE


def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{directory} has no run.json: not the directory of a `hermes batch` run") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _check_manifests(shards: list[Path], manifests: list[dict[str, Any]], dataset: Path) -> int:
    """The shards must be one split of one dataset with one --n; returns that n."""
    counts = {m.get("n", 1) for m in manifests}
    if len(counts) > 1:
        raise ConfigError(f"the shards ran different --n values ({', '.join(map(str, sorted(counts)))})")
    digest = dataset_digest(dataset)
    for directory, manifest in zip(shards, manifests, strict=True):
        if manifest.get("dataset_sha256") != digest:
            raise ConfigError(f"{directory} ran another version of the dataset than {dataset} "
                              "(sha256 differs); pass the file it ran with --dataset")
    split = [m.get("shard") for m in manifests]
    totals = {s.split("/")[1] for s in split if s}
    if len(totals) > 1 or (totals and None in split):
        raise ConfigError(f"the shards come from different splits: {', '.join(str(s) for s in split)}")
    if totals:
        total = int(totals.pop())
        seen = Counter(int(s.split("/")[0]) for s in split)
        twice = sorted(i for i, c in seen.items() if c > 1)
        if twice:
            raise ConfigError(f"shard {', '.join(f'{i}/{total}' for i in twice)} given more than once")
    return counts.pop()


def _describe(sample: Sample | None, key: str) -> str:
    if sample is None:
        return f"sample {key} (not in the dataset)"
    prompt = sample.prompt.replace("\n", " ")
    prompt = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    return f"row {sample.index + 1} sample {sample.sample}: {prompt!r}"


def merge(out: Path, shards: list[Path], dataset: Path | None, *, quiet: bool = False) -> int:
    manifests = [_manifest(directory) for directory in shards]
    dataset = dataset or Path(manifests[0]["dataset"])
    n = _check_manifests(shards, manifests, dataset)
    expected = {s.key: s for s in expand(load_dataset(dataset), n)}
    completed: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    failed: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for directory in shards:
        done = read_records(directory / "trajectories.jsonl")
        for record in done:
            completed.setdefault(record["sample_key"], []).append((directory, record))
        keys = {r["sample_key"] for r in done}
        latest = {r["sample_key"]: r for r in read_records(directory / "failed.jsonl") if r["sample_key"] not in keys}
        for key, record in latest.items():
            failed.setdefault(key, []).append((directory, record))
    where: dict[str, list[Path]] = {}
    for table in (completed, failed):
        for key, hits in table.items():
            where.setdefault(key, []).extend(d for d, _ in hits)
    missing = [key for key in expected if key not in where]
    duplicated = [key for key, dirs in where.items() if len(dirs) > 1]
    unexpected = [key for key in where if key not in expected]
    if missing or duplicated or unexpected:
        _report(expected, missing, duplicated, unexpected, where)
        return EXIT_INCOMPLETE
    _write(out, shards, manifests[0], dataset, n, expected, completed, failed)
    if not quiet:
        done = len(completed)
        sys.stderr.write(f"hermes batch merge: {len(expected)} samples from {len(shards)} shards into {out}: "
                         f"{done} completed, {len(expected) - done} failed\n")
    return EXIT_OK


def _report(expected: dict[str, Sample], missing: list[str], duplicated: list[str], unexpected: list[str],
            where: dict[str, list[Path]]) -> None:
    lines = []
    for title, keys, detail in (
        ("missing (in no shard)", missing, lambda k: ""),
        ("duplicated (in more than one shard)", duplicated, lambda k: " in " + ", ".join(map(str, where[k]))),
        ("not in the dataset", unexpected, lambda k: " in " + ", ".join(map(str, where[k]))),
    ):
        if not keys:
            continue
        order = sorted(keys, key=lambda k: (expected[k].index, expected[k].sample) if k in expected else (1 << 60, 0))
        lines.append(f"{len(keys)} samples {title}:")
        lines += [f"  {_describe(expected.get(k), k)}{detail(k)}" for k in order[:SHOWN]]
        if len(keys) > SHOWN:
            lines.append(f"  ... and {len(keys) - SHOWN} more")
    lines.append("nothing written; run the missing shards (or `--resume` them) and merge again")
    sys.stderr.write("".join(f"hermes batch merge: {line}\n" for line in lines))


def _write(out: Path, shards: list[Path], manifest: dict[str, Any], dataset: Path, n: int,
           expected: dict[str, Sample], completed: dict, failed: dict) -> None:
    store = RunStore(out)
    if store.has_results():
        raise ConfigError(f"{out} already holds results; merge into a new directory")
    store.sessions.mkdir(parents=True, exist_ok=True)
    order = {key: position for position, key in enumerate(expected)}

    def lines(table: dict) -> str:
        records = sorted((hits[0][1] for hits in table.values()), key=lambda r: order[r["sample_key"]])
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)

    store.trajectories.write_text(lines(completed), encoding="utf-8")
    store.failed.write_text(lines(failed), encoding="utf-8")
    rollouts = [d / "rollouts.jsonl" for d in shards if (d / "rollouts.jsonl").exists()]
    if rollouts:
        with store.rollouts.open("wb") as fh:
            for path in rollouts:
                with path.open("rb") as src:
                    shutil.copyfileobj(src, fh)
    for directory in shards:
        for path in sorted((directory / "sessions").glob("*")):
            _link_or_copy(path, store.sessions / path.name)
    done = sorted(completed, key=order.__getitem__)
    write_json_atomic(store.checkpoint, {"completed": len(done), "failed": len(failed),
                                         "completed_keys": done, "failed_keys": sorted(failed, key=order.__getitem__)})
    write_json_atomic(store.manifest, {**manifest, "dataset": str(dataset.resolve()), "shard": None, "n": n,
                                       "merged_from": [str(d.resolve()) for d in shards]})
    header = {"run_name": out.name, "dataset": str(dataset), "model": None, "dataset_samples": len(expected),
              "merged_from": len(shards)}
    stats = run_statistics([h[0][1] for h in completed.values()], [h[0][1] for h in failed.values()],
                           wall_seconds=0.0, ran_now=0, header=header)
    write_json_atomic(store.statistics, stats)


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        if target.read_bytes() == source.read_bytes():
            return
        raise ConfigError(f"two shards hold different files named {source.name}")
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
