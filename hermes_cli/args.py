"""Command-line flags. Strict: an unknown flag or a stray word is a usage error (exit 2), never a run."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from agent.settings.schema import APPROVAL_MODES, SANDBOX_MODES, SPINNERS

USAGE_EXIT = 2

DESCRIPTION = """\
Hermes: an AI agent in your terminal, for any OpenAI-compatible endpoint.

  hermes                      interactive session
  hermes -p "prompt"          one-shot: only the answer on stdout
  echo prompt | hermes        one-shot with the prompt from stdin (also: -p -)
  hermes -q "prompt"          one-shot with the interactive look
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"hermes: error: {message} (see hermes --help)\n")


def subcommands_help() -> str:
    """One line per `hermes NAME` subcommand, from the registry in cli.py."""
    from cli import SUBCOMMANDS

    width = max(map(len, SUBCOMMANDS))
    lines = [f"  hermes {name:<{width}}  {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "commands (hermes NAME --help for each one's options):\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="hermes", description=f"{DESCRIPTION}\n{subcommands_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
    )
    run = p.add_mutually_exclusive_group()
    run.add_argument("-p", "--prompt", help="run one prompt and print only the final answer ('-' reads stdin)")
    run.add_argument("-q", "--query", help="run one prompt with banner and tool progress")
    p.add_argument("--image", action="append", metavar="PATH",
                   help="attach a picture (PNG, JPEG, GIF, WebP) to the prompt; repeatable")
    p.add_argument("--model", "-m", help="model name (else config model.default, else LLM_MODEL)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key", help="API key (else OPENAI_API_KEY, else OPENROUTER_API_KEY)")
    p.add_argument("--toolsets", "-t", help="comma-separated toolsets to enable (default: all available)")
    p.add_argument("--disabled-toolsets", help="comma-separated toolsets to disable")
    p.add_argument("--max-turns", type=_positive_int, help="model calls per prompt before giving up (default 60)")
    p.add_argument("--personality", help="a built-in or configured personality ('none' for none)")
    p.add_argument("--system-prompt", help="replace the default system prompt")
    p.add_argument("--ephemeral-system-prompt", help="extra system text used for this run but never recorded")
    p.add_argument("--output-format", choices=["text", "json", "stream-json"], default="text",
                   help="one-shot output: text (default), json (one object), stream-json (JSON events)")
    session = p.add_mutually_exclusive_group()
    session.add_argument("--resume", "-r", metavar="ID", help="resume a session by id or unique prefix")
    session.add_argument("--continue", "-c", dest="continue_", action="store_true", help="resume the latest session")
    p.add_argument("--yolo", action="store_true", help="run dangerous commands without asking (= --approval-mode yolo)")
    # choices come from the settings schema (one table); the flags are settings sources like the rest
    p.add_argument("--approval-mode", choices=APPROVAL_MODES,
                   help="approvals.mode for this run (default: config, else ask)")
    p.add_argument("--sandbox", choices=SANDBOX_MODES,
                   help="terminal.sandbox for local commands (default: config, else workspace-write where "
                        "bubblewrap works)")
    p.add_argument("--spinner", choices=SPINNERS, help="display.spinner: the waiting indicator (default: config, else kawaii)")
    p.add_argument("--no-stream", action="store_true", help="ask for whole responses instead of streaming")
    p.add_argument("--stall-timeout", metavar="SECONDS",  # checked with the settings (model.stall_timeout)
                   help="give up on a model call after this long without a byte, then retry "
                        "(model.stall_timeout; default 30)")
    p.add_argument("--rollout", action="store_true", help="capture token ids and logprobs for RL export")
    p.add_argument("--list-tools", action="store_true", help="list tools, with the reason any is unavailable")
    p.add_argument("--list-toolsets", action="store_true", help="list toolsets and their tools")
    p.add_argument("--version", "-V", action="store_true", help="print the version")
    return p


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        word = extra[0]
        if word.startswith("-"):
            parser.error(f"unknown option {word}")
        hint = f"; to run a prompt use: hermes -p {_quote(' '.join(extra))}"
        parser.error(f"unexpected argument {word!r}{hint}")
    return args


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def read_stdin_prompt() -> str | None:
    """Piped text; bytes that are not UTF-8 become U+FFFD rather than a UnicodeDecodeError."""
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read().decode("utf-8", "replace") if stream is not None else sys.stdin.read()
    return data.strip() or None
