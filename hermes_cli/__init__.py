"""Command-line front ends: flags, one-shot runs, listings (the REPL joins in a later module)."""
