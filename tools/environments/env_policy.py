"""What environment the model's commands get: inherit, minus every variable that looks like a secret,
plus the names the user lets through (`terminal.env_passthrough`).

    terminal_environ(os.environ, passthrough=["GITHUB_TOKEN"])

A variable is dropped when its name looks secret (KEY, TOKEN, SECRET, PASSWORD/PASSWD, PASSPHRASE,
CREDENTIAL, PRIVATE, AUTH, COOKIE, DSN), or when its value looks like one: a value of any
secret-named variable (the agent's own credentials, wherever else they appear), a JWT, a URL with a
password in it (`postgres://u:pw@db/x` under DATABASE_URL), a PEM private key, or a token with a
well-known prefix (sk-, ghp_, github_pat_, xoxb-, glpat-, AKIA…, AIza…). Passthrough names are kept
whatever they look like: the user asked for them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|CREDENTIAL|PRIVATE|(?:^|_)AUTH(?:$|_|ORIZATION)|COOKIE|(?:^|_)DSN$",
    re.I,
)
# Names that match the pattern above but are ordinary settings.
_NOT_SECRET = frozenset({"TOKENIZERS_PARALLELISM", "HERMES_TOKENIZER", "SSH_AUTH_SOCK", "GPG_AGENT_INFO",
                         "KEYTIMEOUT", "XKB_DEFAULT_LAYOUT"})
_SECRET_VALUE = re.compile(
    r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"  # JWT
    r"|[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"  # URL with user:password
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\b(?:sk-[\w-]{16,}|gh[pousr]_\w{20,}|github_pat_\w{20,}|xox[abprs]-[\w-]{10,}|glpat-[\w-]{16,}"
    r"|AKIA[0-9A-Z]{16}|AIza[\w-]{30,}|hf_\w{20,})",
)
_MIN_SECRET_LEN = 6


def is_secret_name(name: str) -> bool:
    return name not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def looks_secret(value: str) -> bool:
    return bool(_SECRET_VALUE.search(value))


def terminal_environ(
    environ: Mapping[str, str], *, passthrough: Iterable[str] = (), known_secrets: Iterable[str] = ()
) -> dict[str, str]:
    """The environment for the model's commands (see the module docstring for the policy)."""
    keep = set(passthrough)
    secrets = {v for k, v in environ.items() if is_secret_name(k) and len(v) >= _MIN_SECRET_LEN}
    secrets.update(s for s in known_secrets if len(s) >= _MIN_SECRET_LEN)
    out: dict[str, str] = {}
    for name, value in environ.items():
        if name in keep:
            out[name] = value
        elif is_secret_name(name) or looks_secret(value) or any(s in value for s in secrets):
            continue
        else:
            out[name] = value
    return out


def command_environ(passthrough: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment under the policy: what a local command starts with."""
    return terminal_environ(os.environ, passthrough=passthrough)
