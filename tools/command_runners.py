"""Commands that run other code in ways `command_risk.Walker` does not cover itself: ssh's remote
command, `at`/`batch` jobs read from stdin, awk programs, GNU parallel."""

from __future__ import annotations

from typing import Any

from tools.risk_rules import DANGEROUS, interpreter_code_findings

_SSH_VALUE_OPTS = frozenset("-p -i -l -o -F -J -L -R -D -b -c -E -e -m -O -Q -S -W -w -B -I -P".split())
_AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})


def more_runners(walker: Any, name: str, rest: list[Any], stdin: Any) -> bool:
    """Check what `name` would run; True when it was handled here (nothing more to check)."""
    texts = [a.text for a in rest]
    if name == "ssh":
        i = 0
        while i < len(texts) and texts[i] is not None and texts[i].startswith("-"):
            i += 2 if texts[i] in _SSH_VALUE_OPTS else 1
        remote = texts[i + 1:]
        if remote:  # run by a shell on the remote host, which may well be this one
            if any(t is None for t in remote):
                walker.add(DANGEROUS, "ssh runs a remote command built at run time")
            else:
                walker.text(" ".join(t for t in remote if t is not None), "ssh remote command")
        return True
    if name in ("at", "batch"):
        if "-f" not in texts:
            walker._stdin_script(name, stdin, shell=True)
        return True
    if name in _AWKS:
        i = 0
        while i < len(texts) and texts[i] is not None and texts[i].startswith("-"):
            if texts[i] == "-f":
                return True  # the program is in a file
            i += 2 if texts[i] in ("-F", "-v") else 1
        if i < len(texts):
            program = texts[i]
            if program is None:
                walker.add(DANGEROUS, f"{name} runs a program built at run time")
            else:
                walker.findings.extend(interpreter_code_findings(name, program, walker))
        return True
    if name == "parallel":
        end = texts.index(":::") if ":::" in texts else len(rest)
        if end:
            walker.argv(rest[:end], None, via_xargs=True)
        return True
    return False
