#!/usr/bin/env python3
"""Build a `hermes batch` prompts file from a text, CSV, JSON or JSONL file of questions.

    python to_prompts.py questions.txt -o prompts.jsonl                   # one prompt per non-empty line
    python to_prompts.py data.csv --field question --keep id,answer -o prompts.jsonl
    python to_prompts.py rows.jsonl --field instruction --toolsets terminal,file -o prompts.jsonl

--field names the column/key holding the prompt (default "prompt"); --keep copies other
columns/keys into each row (they become the sample's metadata); --toolsets fixes the toolsets of
every sample. Empty and duplicate prompts are skipped. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path


def read_rows(path: Path, field: str) -> Iterator[dict]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if field not in (reader.fieldnames or []):
                sys.exit(f"{path}: no column {field!r}; columns: {', '.join(reader.fieldnames or [])}")
            yield from reader
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            sys.exit(f"{path}: expected a JSON list of objects")
        yield from data
    elif suffix == ".jsonl":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    sys.exit(f"{path}:{number}: not valid JSON ({exc.msg})")
    else:  # plain text: one prompt per line
        for line in path.read_text(encoding="utf-8").splitlines():
            yield {field: line}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help=".txt, .csv, .json or .jsonl")
    parser.add_argument("-o", "--output", type=Path, required=True, help="prompts JSONL to write")
    parser.add_argument("--field", default="prompt", help="column/key with the prompt (default: prompt)")
    parser.add_argument("--keep", default="", help="comma-separated columns/keys to copy into each row")
    parser.add_argument("--toolsets", default="", help="comma-separated toolsets for every sample")
    args = parser.parse_args(argv)

    keep = [k.strip() for k in args.keep.split(",") if k.strip()]
    toolsets = [t.strip() for t in args.toolsets.split(",") if t.strip()]
    seen: set[str] = set()
    written = skipped = 0
    with args.output.open("w", encoding="utf-8") as out:
        for row in read_rows(args.source, args.field):
            prompt = row.get(args.field) if isinstance(row, dict) else None
            if not isinstance(prompt, str) or not prompt.strip() or prompt.strip() in seen:
                skipped += 1
                continue
            prompt = prompt.strip()
            seen.add(prompt)
            record = {"prompt": prompt, **{k: row[k] for k in keep if k in row}}
            if toolsets:
                record["toolsets"] = toolsets
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    print(f"wrote {written} prompts to {args.output} (skipped {skipped} empty or duplicate)", file=sys.stderr)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
