"""`hermes export`: session event logs -> training data (JSONL).

    hermes export [PATH|SESSION_ID ...] --format sharegpt|openai|messages|atif|rollout|atropos|verl
                  [--output FILE|-] [--completed-only] [--model GLOB] [--since DATE] [--until DATE]
                  [--tokenizer DIR_OR_HF_NAME] [--chat-template FILE] [--rewards FILE]

PATH is an event log (`session_<id>.jsonl`) or a directory searched for them (default: the log
directory). The summary goes to stderr, so `--output -` pipes cleanly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from agent.errors import ConfigError
from exports import FORMATS, TOKEN_FORMATS

USAGE_EXIT = 2

EPILOG = """\
formats:
  sharegpt  Hermes ShareGPT (conversations, timestamp, model, completed), byte-compatible with Hermes-Agent
  openai    OpenAI fine-tuning messages + tools, arguments as JSON strings, per-message weight (no reasoning)
  messages  HF/TRL/verl SFT messages + tools: arguments as objects, tool `name`, reasoning_content
  atif      ATIF-v1.5 trajectories (one JSON document per line), checked against a strict schema
  rollout   token ids, 0/1 loss mask, logprobs, turn spans, token_source (needs --tokenizer)
  atropos   Atropos ScoredDataGroup per prompt: the attempts at one task (needs --tokenizer)
  verl      verl/SkyRL rows: prompt_ids, response_ids, response_mask, response_logprobs (needs --tokenizer)

examples:
  hermes export logs/ --format sharegpt --completed-only --output sft.jsonl
  hermes export logs/ --format rollout --tokenizer NousResearch/Hermes-3-Llama-3.1-8B -o rl.jsonl
  hermes export 20261121_143052 --format atif --output -
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"hermes export: error: {message} (see hermes export --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hermes export", description="Export recorded sessions as training data (JSONL).",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("paths", nargs="*", metavar="PATH", help="event log, directory of logs, or session id "
                   "(default: the log directory)")
    p.add_argument("--format", "-f", choices=FORMATS, default="sharegpt", help="output format (default sharegpt)")
    p.add_argument("--output", "-o", default="-", help="output file ('-' = stdout, the default; .gz compresses)")
    p.add_argument("--completed-only", action="store_true", help="only sessions whose last run finished normally")
    p.add_argument("--model", action="append", default=[], metavar="GLOB", help="only sessions of this model "
                   "(glob, repeatable)")
    p.add_argument("--since", metavar="DATE", help="only sessions started on/after DATE (YYYY-MM-DD or ISO time)")
    p.add_argument("--until", metavar="DATE", help="only sessions started on/before DATE")
    tokens = p.add_argument_group("token-level formats (rollout, atropos, verl)")
    tokens.add_argument("--tokenizer", default=os.environ.get("HERMES_TOKENIZER"),
                        help="tokenizer directory or Hugging Face name (default: $HERMES_TOKENIZER)")
    tokens.add_argument("--chat-template", type=Path, metavar="FILE", help="Jinja chat template overriding the tokenizer's")
    tokens.add_argument("--rewards", type=Path, metavar="FILE",
                        help="rewards per session: JSON {id: reward} or JSONL {session_id, reward}")
    tokens.add_argument("--per-call", action="store_true", help="one sample per model call, never merged")
    tokens.add_argument("--group-by", choices=["prompt", "session"], default="prompt",
                        help="atropos: one group per first user prompt, i.e. the attempts at one task "
                             "(default; Atropos drops groups whose scores are all equal), or per session")
    p.add_argument("--train-on", choices=["all", "last"], default="all",
                   help="openai: weight 1 on all assistant turns (default) or only the last")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    return p


def _resolve_paths(raw: list[str]) -> list[Path]:
    from exports.source import expand_paths
    from recording.paths import log_dir
    from recording.reader import find_session

    if not raw:
        directory = log_dir()
        if not directory.is_dir():
            raise ConfigError(f"no session logs in {directory}; pass PATH (a log file or a directory)")
        return expand_paths([directory])
    resolved: list[str | Path] = []
    for item in raw:
        if Path(item).expanduser().exists() or os.sep in item:
            resolved.append(item)
            continue
        try:  # a session id or unique prefix in the log directory
            resolved.append(find_session(log_dir(), item))
        except ValueError as exc:
            raise ConfigError(f"{item}: no such file, directory or session ({exc})") from None
    return expand_paths(resolved)


def _options(args: argparse.Namespace):
    from exports.filters import SessionFilter, parse_when
    from exports.pipeline import ExportOptions, load_rewards

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until, end=True) if args.until else None
    tokenizer = None
    if args.format in TOKEN_FORMATS:
        if not args.tokenizer:
            raise ConfigError(f"--format {args.format} needs a tokenizer to know token ids and the chat template: "
                              "pass --tokenizer DIR_OR_HF_NAME (the served model's tokenizer), or set HERMES_TOKENIZER")
        from exports.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer, args.chat_template)
    return ExportOptions(
        fmt=args.format,
        filter=SessionFilter(args.completed_only, args.model, since, until),
        tokenizer=tokenizer,
        rewards=load_rewards(args.rewards) if args.rewards else {},
        merge=not args.per_call,
        train_on=args.train_on,
        group_by=args.group_by,
    )


def _summary(report, args: argparse.Namespace) -> str:
    where = "stdout" if args.output == "-" else args.output
    text = (f"hermes export: {report.exported} of {report.sessions} sessions -> {report.records} "
            f"{args.format} record{'s' if report.records != 1 else ''} to {where}")
    if report.sources:
        text += " (token_source: " + ", ".join(f"{k} {v}" for k, v in sorted(report.sources.items())) + ")"
    if report.skipped:
        text += "; skipped " + ", ".join(f"{n} {why}" for why, n in report.skipped.most_common())
    if report.failures:
        text += f"; {len(report.failures)} failed"
    return text


def main(argv: list[str]) -> int:
    """`hermes export ...`; a ConfigError/HermesError is reported by cli.main as one line (exit 2/1)."""
    args = build_parser().parse_args(argv)
    try:
        from exports.pipeline import run_export
        from exports.writer import JsonlWriter

        paths = _resolve_paths(args.paths)
        options = _options(args)

        def failed(path: Path, message: str) -> None:
            sys.stderr.write(f"hermes export: skipped {path.name}: {message}\n")

        report = run_export(paths, options, JsonlWriter(args.output), on_failure=failed)
    except BrokenPipeError:  # `hermes export ... | head`: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if not args.quiet:
        sys.stderr.write(_summary(report, args) + "\n")
    return 1 if report.failures else 0
