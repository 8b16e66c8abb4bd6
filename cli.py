"""The `hermes` command: parse flags, then run one prompt, a listing, or the interactive session.

Exit codes: 0 success, 1 the run failed (API error after retries, turn limit, loop), 2 usage or
configuration error (unknown flag, unknown toolset, no endpoint configured), 130 interrupted.
Nothing heavy is imported at module level: `--version` must answer in a few milliseconds.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

from hermes_cli import __version__  # noqa: E402  (the package's __init__ is one line: still instant)

# `hermes NAME ...` runs module:function(argv) for these; each parses its own flags. `hermes --help`
# lists every entry with its one-line summary, so a subcommand added here is documented there too.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "export": ("hermes_cli.export_cmd:main", "write recorded sessions as training data (ShareGPT, OpenAI, ATIF, rollout, ...)"),
    "replay": ("hermes_cli.replay_cmd:main", "re-run a recorded session's tool calls and report where results diverge"),
    "batch": ("batch_runner:main", "run a dataset of prompts in parallel and record every trajectory"),
    "rl": ("hermes_cli.rl_cli:main", "online RL: run an Atropos environment of hermes rollouts, check groups files"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--version"], ["-V"]):
        print(f"hermes {__version__}")
        return 0
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, _, function = SUBCOMMANDS[argv[0]][0].partition(":")
        entry = getattr(importlib.import_module(module), function)
        return _reporting_errors(f"hermes {argv[0]}", lambda: entry(argv[1:]))

    from hermes_cli.args import parse_args

    args = parse_args(argv)
    return _reporting_errors("hermes", lambda: _dispatch(args))


def _reporting_errors(prog: str, action: Callable[[], int]) -> int:
    """Expected failures become one line on stderr and an exit code: 2 for usage/config, else 1."""
    from agent.errors import ConfigError, HermesError
    from hermes_cli.args import USAGE_EXIT

    try:
        return action()
    except ConfigError as exc:  # several invalid settings: one line each
        sys.stderr.write(_redacted("".join(f"{prog}: error: {line}\n" for line in str(exc).splitlines())))
        return USAGE_EXIT
    except HermesError as exc:
        sys.stderr.write(_redacted(f"{prog}: error: {exc}\n"))
        return 1


def _redacted(text: str) -> str:
    """An error line without secrets (an endpoint's message may echo the key it was given)."""
    from recording.redact import Redactor

    argv = sys.argv[1:]
    flag_values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--api-key"]
    flag_values += [a.split("=", 1)[1] for a in argv if a.startswith("--api-key=")]
    return Redactor(flag_values)(text)


def _dispatch(args: argparse.Namespace) -> int:
    from agent.errors import ConfigError
    from hermes_cli.args import read_stdin_prompt

    if args.version:
        print(f"hermes {__version__}")
        return 0
    if args.list_tools or args.list_toolsets:
        from hermes_cli.agent_factory import load_settings
        from hermes_cli.listing import list_tools, list_toolsets
        from tools import tool_settings

        tool_settings.configure(load_settings(args))  # custom toolsets, keys, the backend tools would use

        return list_tools() if args.list_tools else list_toolsets()

    prompt = args.prompt if args.prompt is not None else args.query
    if prompt == "-" or (prompt is None and not sys.stdin.isatty()):
        prompt = read_stdin_prompt()
        if prompt is None:
            raise ConfigError("no prompt given: stdin was empty (use -p 'prompt' or pipe text in)")
    if prompt is not None:
        if not prompt.strip():
            raise ConfigError("the prompt is empty")
        from hermes_cli.oneshot import run_oneshot

        return run_oneshot(args, prompt, interactive_look=args.query is not None)

    from hermes_cli.repl_entry import run_repl

    return run_repl(args)


def run() -> None:
    """Console-script entry point (the ./hermes launcher calls it too)."""
    if sys.argv[1:] not in (["--version"], ["-V"]):
        from hermes_cli.hide_secrets import hide_and_reexec

        hide_and_reexec()  # credentials out of /proc/<pid>/environ and cmdline (may re-exec)
        from hermes_cli.subreaper import become_subreaper

        become_subreaper()  # commands that setsid or daemonise still end with us (not in library use)
    sys.exit(main())


if __name__ == "__main__":
    run()
