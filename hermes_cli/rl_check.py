"""`hermes rl check GROUPS.jsonl [--tokenizer DIR]`: is an Atropos groups file fit to train on?

Each line is one ScoredDataGroup (what `hermes rl atropos ... process` and atroposlib's own
`process` mode write). Checked: atroposlib's `ScoredData` model (what
its Trajectory API accepts), one entry per sequence in every per-sequence list, per sequence equal
lengths of tokens / masks / inference_logprobs, masks either -100 or the token at that position,
inference_logprobs 1.0 where masked and a real logprob (finite, <= 0) where trained, at least one
sequence per group and one trained token per sequence, finite scores, and no end-of-turn text in
any assistant message's content (a sampled end token decoded into the answer). With a tokenizer: every id inside its vocabulary, and its own end-of-turn tokens.
Prints a summary; every violation on its own line; exit 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from agent.errors import ConfigError

USAGE_EXIT = 2
MASKED = -100
SHOWN = 20  # violations printed per file; the count covers all
# End-of-turn texts of common chat templates, checked when no tokenizer names its own.
EOT_TEXTS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")
PER_SEQUENCE = ("tokens", "masks", "scores", "inference_logprobs", "messages", "advantages", "ref_logprobs")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"hermes rl check: error: {message} (see hermes rl check --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hermes rl check", description="Validate Atropos groups files (one ScoredDataGroup per "
                "line): atroposlib's ScoredData model plus per-token invariants. Exit 1 on any violation.",
                allow_abbrev=False)
    p.add_argument("paths", nargs="+", type=Path, metavar="GROUPS.jsonl")
    p.add_argument("--tokenizer", default=os.environ.get("HERMES_TOKENIZER"),
                   help="the policy's tokenizer (directory or Hugging Face name; default $HERMES_TOKENIZER): "
                        "ids must be in its vocabulary, its end-of-turn tokens must not appear in answers")
    return p


@dataclass
class Report:
    groups: int = 0
    sequences: int = 0
    tokens: int = 0
    trained: int = 0
    scores: list[float] = field(default_factory=list)
    without_logprobs: int = 0
    equal_scores: int = 0
    violations: list[str] = field(default_factory=list)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    scored_data = _scored_data_model()
    vocab_size, eot_texts = _tokenizer_facts(args.tokenizer)
    failed = False
    for path in args.paths:
        report = check_file(path, scored_data, vocab_size, eot_texts)
        _print(path, report)
        failed = failed or bool(report.violations)
    return 1 if failed else 0


def _scored_data_model() -> Any:
    try:
        from atroposlib.api.server import ScoredData
    except ImportError:
        raise ConfigError("checking groups needs atroposlib (its ScoredData model): "
                          "pip install 'hermes-agent[atropos]'") from None
    return ScoredData


def _tokenizer_facts(name: str | None) -> tuple[int | None, tuple[str, ...]]:
    if not name:
        return None, EOT_TEXTS
    from exports.tokenizer import load_tokenizer

    tok = load_tokenizer(name)
    texts = tuple(sorted({tok.decode([i]) for i in tok.eot_ids} - {""}))
    return tok.vocab_size, texts or EOT_TEXTS


def check_file(path: Path, scored_data: Any, vocab_size: int | None, eot_texts: tuple[str, ...]) -> Report:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text (expected JSONL, one group per line)") from None
    report = Report()
    for number, line in enumerate(lines, 1):
        if line.strip():
            check_group(line, f"line {number}", report, scored_data, vocab_size, eot_texts)
    if not report.groups and not report.violations:
        report.violations.append("no groups in the file")
    return report


def check_group(line: str, where: str, report: Report, scored_data: Any, vocab_size: int | None,
                eot_texts: tuple[str, ...]) -> None:
    bad = report.violations.append
    try:
        group = json.loads(line)
    except json.JSONDecodeError as exc:
        bad(f"{where}: not JSON ({exc.msg} at column {exc.colno})")
        return
    if not isinstance(group, dict):
        bad(f"{where}: not a JSON object")
        return
    report.groups += 1
    try:
        scored_data(**group)
    except Exception as exc:  # pydantic's ValidationError: name the first field it rejects
        errors = getattr(exc, "errors", lambda: [])()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        loc = ".".join(str(p) for p in first["loc"]) or "group"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        bad(f"{where}: atroposlib's ScoredData rejects it: {loc}: {first['msg']}{more}")
        return
    tokens, masks = group["tokens"], group["masks"]
    count = len(tokens)
    if not count:
        bad(f"{where}: no sequences (tokens is empty)")
        return
    for key in PER_SEQUENCE:
        if group.get(key) is not None and len(group[key]) != count:
            bad(f"{where}: {len(group[key])} {key} for {count} sequences")
            return
    logprobs = group.get("inference_logprobs")
    if logprobs is None:
        report.without_logprobs += 1
    scores = [float(s) for s in group["scores"]]
    unusable = [s for s in scores if not math.isfinite(s)]
    if unusable:  # one NaN or inf score poisons the group's advantages
        bad(f"{where}: score {unusable[0]} is not a finite number")
        return
    report.scores.extend(scores)
    report.equal_scores += len(set(scores)) == 1 and count > 1
    for i in range(count):
        report.sequences += 1
        _check_sequence(f"{where} sequence {i}", tokens[i], masks[i], None if logprobs is None else logprobs[i],
                        report, vocab_size)
    for i, messages in enumerate(group.get("messages") or []):
        for m, message in enumerate(messages or []):
            content = message.get("content") if isinstance(message, dict) else None
            if message.get("role") == "assistant" and isinstance(content, str):
                leaked = [t for t in eot_texts if t in content]
                if leaked:
                    bad(f"{where} sequence {i} message {m}: end-of-turn text {leaked[0]} in assistant content")


def _check_sequence(where: str, tokens: list[int], masks: list[int], logprobs: list[float] | None,
                    report: Report, vocab_size: int | None) -> None:
    bad = report.violations.append
    if len(masks) != len(tokens):
        bad(f"{where}: {len(masks)} masks for {len(tokens)} tokens")
        return
    if logprobs is not None and len(logprobs) != len(tokens):
        bad(f"{where}: {len(logprobs)} inference_logprobs for {len(tokens)} tokens")
        return
    report.tokens += len(tokens)
    trained = 0
    for j, (token, mask) in enumerate(zip(tokens, masks, strict=True)):
        if vocab_size is not None and not 0 <= token < vocab_size:
            bad(f"{where} position {j}: token {token} is outside the tokenizer's vocabulary (size {vocab_size})")
            return
        if mask != MASKED and mask != token:
            bad(f"{where} position {j}: mask {mask} is neither -100 nor the token {token}")
            return
        trained += mask != MASKED
        if logprobs is None:
            continue
        lp = logprobs[j]
        if mask == MASKED and lp != 1.0:
            bad(f"{where} position {j}: inference_logprob {lp} where masked (Atropos expects 1.0)")
            return
        if mask != MASKED and not -math.inf < lp <= 0.0:
            bad(f"{where} position {j}: inference_logprob {lp} on a trained token (a logprob is finite and <= 0)")
            return
    if not trained:
        bad(f"{where}: no trained token (every mask is -100)")
    report.trained += trained


def _print(path: Path, report: Report) -> None:
    scores = report.scores
    score_text = (f"scores mean {statistics.fmean(scores):.3g} (min {min(scores):.3g}, max {max(scores):.3g})"
                  if scores else "no scores")
    share = f" ({100 * report.trained / report.tokens:.0f}% trained)" if report.tokens else ""
    print(f"{path}: {report.groups} groups, {report.sequences} sequences, {report.tokens} tokens, "
          f"{report.trained} trained{share}; {score_text}")
    if report.without_logprobs:
        print(f"  note: {report.without_logprobs} group(s) without inference_logprobs (importance-sampling "
              "trainers need them)")
    if report.equal_scores:
        print(f"  note: {report.equal_scores} group(s) whose scores are all equal (Atropos drops them unless "
              "--env.ensure_scores_are_not_same false)")
    for line in report.violations[:SHOWN]:
        print(f"  {line}")
    if len(report.violations) > SHOWN:
        print(f"  ... and {len(report.violations) - SHOWN} more")
    print(f"{path}: {len(report.violations)} violation(s)" if report.violations else f"{path}: OK")
    sys.stdout.flush()
