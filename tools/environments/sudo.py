"""SUDO_PASSWORD support shared by every backend.

When the password is set and a command mentions `sudo`, the command runs with a shell function
`sudo` that calls the real `sudo -k -S -p ''` with stdin from a 0600 file in the environment's
private state dir. So the password never appears in an argv (`ps`), in the command text the
model sees or the session log records, or in the output (`-p ''` prints no prompt). `-k` makes
sudo read the password every time, so it is always consumed and never reaches the command.
"""

from __future__ import annotations

import re
import shlex

# `sudo` as a command word (not part of another word or path such as sudoers or /etc/sudo.conf).
_SUDO_WORD = re.compile(r"(?<![\w./-])sudo(?![\w./-])")


def uses_sudo(command: str) -> bool:
    return bool(_SUDO_WORD.search(command))


def sudo_function(password_file: str) -> str:
    """Shell text defining `sudo` for one call; prepended to the command.

    root is never asked for a password, so feeding it one would hand the password to the command's
    stdin: as root the real sudo runs untouched.
    """
    return (f"sudo() {{ if [ \"$(id -u)\" = 0 ]; then command sudo \"$@\"; "
            f"else command sudo -k -S -p '' \"$@\" <{shlex.quote(password_file)}; fi; }}\n")


def password_file_text(password: str) -> str:
    return password.rstrip("\n") + "\n"


# A password typed at the REPL's sudo prompt: kept in memory for this process only (never in
# os.environ, where commands would inherit it).
_typed_password: str | None = None


def remember_password(password: str) -> None:
    global _typed_password
    _typed_password = password


def current_password() -> str | None:
    """SUDO_PASSWORD, else the one typed at the prompt this session."""
    import os

    return os.environ.get("SUDO_PASSWORD") or _typed_password
