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

# `hermes NAME ...` runs module:function(argv) for these; each parses its own flags.
SUBCOMMANDS: dict[str, str] = {
    "export": "hermes_cli.export_cmd:main",
    "replay": "hermes_cli.replay_cmd:main",
    "batch": "batch_runner:main",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--version"], ["-V"]):
        print(f"hermes {__version__}")
        return 0
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, _, function = SUBCOMMANDS[argv[0]].partition(":")
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
        sys.stderr.write("".join(f"{prog}: error: {line}\n" for line in str(exc).splitlines()))
        return USAGE_EXIT
    except HermesError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 1


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
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
