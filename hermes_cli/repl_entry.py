"""Entry to the interactive session (kept apart so one-shot runs never import prompt_toolkit)."""

from __future__ import annotations

import argparse


def run_repl(args: argparse.Namespace) -> int:
    from hermes_cli.repl.app import run_repl as run

    return run(args)
