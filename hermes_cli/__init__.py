"""Command-line front ends: flags, one-shot runs, listings, the REPL, /config."""

__version__ = "0.1.0"
