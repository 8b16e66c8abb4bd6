"""Keep the agent's credentials out of `/proc/<hermes pid>/environ` and `/proc/<hermes pid>/cmdline`.

Those two files show the environment block and argv the process was *started* with; changing
`os.environ` or `sys.argv` later does not change them, and a command the model runs (even as
another user, when hermes runs as root) can read them. So at start-up, when secret-looking
variables are in the environment or `--api-key` is on the command line, hermes first overwrites
the secrets where /proc reads them (`proc_scrub`, checked against /proc/self, ~free). Should that
not work, it writes them into an anonymous in-memory file (memfd), re-executes the same
interpreter with a scrubbed environment and argv, and the new process reads them back into memory
and closes the file. Nothing happens when there is nothing to hide, or where memfd is unavailable
(no /proc there either).

Only the standard library and `agent.secrets` are imported: this runs before anything else.
"""

from __future__ import annotations

import json
import os
import sys

FD_VARIABLE = "HERMES_SECRETS_FD"
HIDDEN = "[hidden]"
_FLAG = "--api-key"


def _secret_variables(environ: dict[str, str]) -> dict[str, str]:
    from agent.secrets import looks_secret

    return {name: value for name, value in environ.items() if value and looks_secret(name, value)}


def _has_secret_flag(args: list[str]) -> bool:
    return any(arg == _FLAG or arg.startswith(_FLAG + "=") for arg in args)


def _flag_values(args: list[str]) -> list[str]:
    values = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == _FLAG]
    return values + [arg.split("=", 1)[1] for arg in args if arg.startswith(_FLAG + "=")]


def _scrub_args(args: list[str]) -> list[str]:
    out, hide_next = [], False
    for arg in args:
        if hide_next:
            out.append(HIDDEN)
            hide_next = False
        elif arg == _FLAG:
            out.append(arg)
            hide_next = True
        elif arg.startswith(_FLAG + "="):
            out.append(f"{_FLAG}={HIDDEN}")
        else:
            out.append(arg)
    return out


def restore() -> bool:
    """In the re-executed process: read the secrets back from the inherited fd. True if it did."""
    fd_text = os.environ.pop(FD_VARIABLE, None)
    if fd_text is None:
        return False
    try:
        fd = int(fd_text)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        os.close(fd)
        payload = json.loads(b"".join(chunks))
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"hermes: warning: could not read the hidden credentials back ({exc})\n")
        return True
    os.environ.update(payload["env"])
    sys.argv[:] = payload["argv"]
    return True


def hide_and_reexec() -> None:
    """Re-exec with secrets moved to a memfd when any are visible in environ or argv; else return."""
    if restore():
        return
    secrets = _secret_variables(dict(os.environ))
    if not secrets and not _has_secret_flag(sys.argv[1:]):
        return
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self"):
        return
    from hermes_cli.proc_scrub import scrub_in_place

    values = [*secrets.values(), *_flag_values(sys.argv[1:])]
    # HERMES_HIDE_SECRETS_BY_REEXEC=1 forces the fallback (tests exercise both paths).
    if os.environ.get("HERMES_HIDE_SECRETS_BY_REEXEC") != "1" and scrub_in_place(values, secrets):
        return  # overwritten where /proc reads them: no re-exec needed
    try:
        fd = os.memfd_create("hermes-credentials", 0)
        os.write(fd, json.dumps({"env": secrets, "argv": sys.argv}).encode())
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
    except OSError:
        return  # hiding is best effort: never stop hermes from starting
    env = {name: value for name, value in os.environ.items() if name not in secrets}
    env[FD_VARIABLE] = str(fd)
    orig = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    script_args = len(sys.argv) - 1
    prefix = orig[:len(orig) - script_args] if script_args else orig
    argv = [*prefix, *_scrub_args(sys.argv[1:])]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, env)
    except OSError:
        os.close(fd)  # could not re-exec: carry on unhidden rather than fail
