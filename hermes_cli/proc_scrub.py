"""Overwrite secrets in this process's original argv/environ block, so /proc/self shows `****`.

`/proc/<pid>/cmdline` and `/proc/<pid>/environ` read the memory where the kernel laid out argv and
the environment at exec time (argv strings, then environment strings, contiguous). Python copied
them into `sys.argv` and `os.environ` at start-up, so overwriting that block in place loses
nothing. Every step is checked against /proc/self; any surprise returns False and the caller
falls back to re-executing with a scrubbed environment (hermes_cli/hide_secrets.py).
"""

from __future__ import annotations

import os


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def scrub_in_place(secrets: list[str], secret_env: dict[str, str]) -> bool:
    """Overwrite every secret in the argv/environ block; True when /proc/self shows none of them after."""
    import ctypes

    needles = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
    try:
        cmdline, envblock = _read("/proc/self/cmdline"), _read("/proc/self/environ")
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
        env_start = environ[0] if environ else None
    except (OSError, ValueError, AttributeError):
        return False
    if not env_start or not envblock or ctypes.string_at(env_start, len(envblock)) != envblock:
        return False  # the environment was already changed: the layout is not the one we expect
    arg_start = env_start - len(cmdline)
    if ctypes.string_at(arg_start, len(cmdline)) != cmdline:
        return False
    for start, block in ((arg_start, cmdline), (env_start, envblock)):
        for needle in needles:
            pos = block.find(needle)
            while pos >= 0:
                ctypes.memset(start + pos, ord("*"), len(needle))
                pos = block.find(needle, pos + len(needle))
    # The C-level environment still points into the block: give it fresh copies of the real
    # values (children started without an explicit env inherit those, as before).
    for name, value in secret_env.items():
        os.putenv(name, value)
    try:
        after = _read("/proc/self/cmdline") + _read("/proc/self/environ")
    except OSError:
        return False
    return not any(needle in after for needle in needles)
