r"""Which shell commands are refused outright, and which need the user's approval first.

    check_command("rm -rf /")        -> Verdict("blocked", "recursive delete of /")
    check_command("git push -f")     -> Verdict("dangerous", "force push rewrites remote history")
    check_command("ls -la")          -> Verdict("ok")

A heuristic, not a security boundary (the sandbox and isolated backends are). The line is parsed
with a real shell grammar (`tools.shell_parse`) and everything it would run is checked
(`tools.command_risk`); a line that cannot be parsed asks. SQL that empties tables is matched on a
quote-stripped copy of the line, since it lives inside quoted arguments.

Approval rules (`Verdict.rules`) are as narrow as the command: `rm -r under ./build` for a
recursive delete of `build`, `exactly: git push -f` for a command with no path to scope to.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from tools.risk_rules import BLOCKED, DANGEROUS, OK, SYSTEM_DIRS, Finding

__all__ = ["BLOCKED", "DANGEROUS", "OK", "SYSTEM_DIRS", "Finding", "Rule", "Verdict", "check_command",
           "parse_rule"]

EXACT_PREFIX = "exactly: "
_UNDER = " under "


@dataclass(frozen=True)
class Verdict:
    level: str = OK
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    command: str = ""

    @property
    def blocked(self) -> bool:
        return self.level == BLOCKED

    @property
    def dangerous(self) -> bool:
        return self.level == DANGEROUS

    @property
    def ok(self) -> bool:
        return self.level == OK

    @property
    def rules(self) -> list[str]:
        """The narrowest rules that allow this command: one per scoped target, else the exact line."""
        scoped = [f for f in self.findings if f.level == DANGEROUS]
        if scoped and all(f.pattern and f.targets for f in scoped):
            out: list[str] = []
            for finding in scoped:
                for target in finding.targets:
                    rule = f"{finding.pattern}{_UNDER}{shlex.quote(target)}"
                    if rule not in out:
                        out.append(rule)
            return out
        return [EXACT_PREFIX + self.command.strip()]

    def allowed_by(self, stored: Iterable[str]) -> bool:
        """True when the stored rules cover everything this command was flagged for."""
        rules = [r for r in (parse_rule(s) for s in stored) if r is not None]
        exact = self.command.strip()
        if any(r.pattern is None and r.scope == exact for r in rules):
            return True
        scoped = [f for f in self.findings if f.level == DANGEROUS]
        if not scoped or not all(f.pattern and f.targets for f in scoped):
            return False
        return all(any(r.covers(f.pattern or "", target) for r in rules) for f in scoped for target in f.targets)


@dataclass(frozen=True)
class Rule:
    """A stored approval: `pattern` under the path `scope`, or (pattern None) one exact command."""

    pattern: str | None
    scope: str

    def covers(self, pattern: str, target: str) -> bool:
        if self.pattern != pattern:
            return False
        if target == self.scope or self.scope == "/":
            return True
        if self.scope == ".":
            return target.startswith("./")
        return target.startswith(self.scope.rstrip("/") + "/")


def parse_rule(stored: str) -> Rule | None:
    """A stored allowlist entry as a Rule; None for entries of the old reason-only format.

    Before rules were scoped, "always" stored the reason ("recursive delete (rm -r)") and allowed
    that kind of command anywhere. Those entries still load but no longer allow anything: the
    command asks again and "always" then stores a narrow rule. `/approvals` lists them as legacy.
    """
    if stored.startswith(EXACT_PREFIX):
        return Rule(None, stored[len(EXACT_PREFIX):].strip())
    if _UNDER in stored:
        pattern, _, scope = stored.rpartition(_UNDER)
        try:
            parts = shlex.split(scope)
        except ValueError:
            return None
        if len(parts) == 1 and pattern:
            return Rule(pattern, parts[0])
    return None


# SQL lives inside quoted arguments: matched on a quote-stripped copy of the whole line.
_SQL_RULES = [
    (re.compile(r"\bDROP\s+(?:TABLE|DATABASE|SCHEMA)\b", re.I), "drops a database object"),
    (re.compile(r"\bTRUNCATE\s+TABLE\b", re.I), "truncates a database table"),
]
_DELETE_FROM = re.compile(r"\bDELETE\s+FROM\b", re.I)
_WHERE = re.compile(r"\bWHERE\b", re.I)


def normalize(command: str) -> str:
    """The line without quotes and backslashes, blanks squeezed (for the SQL patterns)."""
    text = command.replace("\\\n", " ")
    text = re.sub(r"\$(['\"])", r"\1", text)
    text = text.replace("\\", "").replace("'", "").replace('"', "")
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def _sql_findings(command: str) -> list[Finding]:
    if not re.search(r"drop|truncate|delete", command, re.I):
        return []
    text = normalize(command)
    out = [Finding(DANGEROUS, reason) for pattern, reason in _SQL_RULES if pattern.search(text)]
    for match in _DELETE_FROM.finditer(text):
        if not _WHERE.search(text[match.end():].split(";", 1)[0]):
            out.append(Finding(DANGEROUS, "DELETE FROM without WHERE empties a table"))
            break
    return out


def check_command(command: str) -> Verdict:
    """Classify a shell command: blocked (never run), dangerous (needs approval) or ok."""
    from tools.command_risk import classify

    findings = classify(command) + _sql_findings(command)
    blocked = next((f for f in findings if f.level == BLOCKED), None)
    if blocked is not None:
        return Verdict(BLOCKED, blocked.reason, (blocked,), command)
    dangerous = tuple(f for f in findings if f.level == DANGEROUS)
    if dangerous:
        return Verdict(DANGEROUS, dangerous[0].reason, dangerous, command)
    return Verdict(OK, "", (), command)

