"""Entry to the interactive session."""

from __future__ import annotations

import argparse

from agent.errors import ConfigError


def run_repl(args: argparse.Namespace) -> int:
    raise ConfigError("the interactive session is not available in this version yet; use -p 'prompt'")
