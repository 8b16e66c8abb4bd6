"""Working directory and exported variables kept between spawn-per-call bash invocations.

Each call runs `bash -c WRAPPER bash COMMAND`. The wrapper installs an EXIT trap, then `eval`s the
command (or sources it from a file when it is too big for argv), so even `exit 3` saves state and
keeps its exit code. The trap writes the final `$PWD` and
every exported variable, NUL-separated, to a state file (builtins only: no extra process). The
caller parses the file with `ShellState.load()` and starts the next call with that cwd and
environment: locally by passing them to `Popen`, on remote backends with `ShellState.prelude()`.
A state file without the end marker (the command was killed mid-write) is ignored.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

END_MARKER = "__HERMES_STATE_END__"

# Variables bash manages itself: carrying bash's values over would make them drift (SHLVL would
# grow every call), so the starting values are kept instead.
_UNSAVED = frozenset({"SHLVL", "_", "PWD"})

_WRAPPER = r"""__hermes_state=%(state)s
__hermes_save() {
  __hermes_rc=$?
  builtin set +eu
  builtin trap - EXIT
  builtin compgen -e >"$__hermes_state.names" 2>/dev/null
  builtin mapfile -t __hermes_names <"$__hermes_state.names"
  {
    builtin printf '%%s\0' "$PWD"
    for __hermes_n in "${__hermes_names[@]}"; do
      builtin printf '%%s=%%s\0' "$__hermes_n" "${!__hermes_n}"
    done
    builtin printf '%%s\0' %(marker)s
  } >"$__hermes_state" 2>/dev/null
  builtin exit "$__hermes_rc"
}
builtin trap __hermes_save EXIT
__hermes_cmd=$1
__hermes_file=$2
[ -n "$3" ] && builtin source "$3"
builtin set --
if [ -n "$__hermes_file" ]; then builtin source "$__hermes_file"; else builtin eval "$__hermes_cmd"; fi
"""

# Linux refuses a single argv string over 128 KiB (MAX_ARG_STRLEN); bigger commands go via a file.
MAX_ARG_BYTES = 100_000


def wrapper_script(state_file: str) -> str:
    """The `bash -c` script; the command is passed as `$1` (argv, never spliced into the text)."""
    return _WRAPPER % {"state": shlex.quote(state_file), "marker": shlex.quote(END_MARKER)}


def needs_command_file(command: str) -> bool:
    return len(command) * 4 > MAX_ARG_BYTES and len(command.encode("utf-8", errors="surrogateescape")) > MAX_ARG_BYTES


def bash_argv(
    command: str,
    state_file: str,
    bash: str = "bash",
    command_file: str | None = None,
    prelude_file: str | None = None,
) -> list[str]:
    """argv for one call. With `command_file` the command is sourced from that file instead; a
    `prelude_file` (export lines for variables too big for the environment block) is sourced first."""
    argv = [bash, "-c", wrapper_script(state_file), "bash", "" if command_file else command]
    if command_file or prelude_file:
        argv += [command_file or "", prelude_file or ""]
    return argv


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items() if name.isidentifier())


def split_oversized(env: dict[str, str], limit: int = MAX_ARG_BYTES, total: int = 1_000_000):
    """(env that execve accepts, variables that must be exported from a sourced file instead)."""
    sizes = {name: len(name) + len(value.encode("utf-8", errors="surrogateescape")) + 2 for name, value in env.items()}
    big = {name for name, size in sizes.items() if size > limit}
    budget = sum(sizes.values()) - sum(sizes[name] for name in big)
    for name in sorted(sizes, key=sizes.get, reverse=True):
        if budget <= total:
            break
        if name not in big:
            big.add(name)
            budget -= sizes[name]
    small = {k: v for k, v in env.items() if k not in big}
    return small, {k: env[k] for k in big}


@dataclass
class ShellState:
    """The cwd and exported environment a task's next command starts with."""

    cwd: str
    env: dict[str, str] = field(default_factory=dict)

    def load(self, data: bytes) -> bool:
        """Update from a state file's bytes; returns False (and changes nothing) if it is incomplete."""
        parts = data.split(b"\0")
        # A complete file ends with "<marker>\0", so the split leaves an empty last element.
        if len(parts) < 3 or parts[-1] != b"" or parts[-2] != END_MARKER.encode():
            return False
        cwd = parts[0].decode("utf-8", errors="surrogateescape")
        env: dict[str, str] = {}
        for raw in parts[1:-2]:
            name, sep, value = raw.decode("utf-8", errors="surrogateescape").partition("=")
            if sep and name not in _UNSAVED:
                env[name] = value
        for name in _UNSAVED & self.env.keys():
            env[name] = self.env[name]  # keep what the first call started with
        if cwd:
            self.cwd = cwd
        self.env = env
        return True

    def prelude(self) -> str:
        """Shell text that recreates this state, for backends that cannot pass env/cwd directly."""
        return export_lines(self.env) + f"builtin cd -- {shlex.quote(self.cwd)} 2>/dev/null || true\n"
