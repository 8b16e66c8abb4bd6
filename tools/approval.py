r"""Which shell commands are refused outright, and which need the user's approval first.

    check_command("rm -rf /")        -> Verdict("blocked", "recursive delete of /")
    check_command("git push -f")     -> Verdict("dangerous", "force push rewrites remote history")
    check_command("ls -la")          -> Verdict("ok")

A heuristic over the trusted local backend, not a security boundary: isolation (docker, ssh, ...)
is the boundary. The command is tokenised like a shell would (so `'r'm`, `r\m` and `"$HOME"` are
seen as `rm` and `~`, while a quoted commit message mentioning `rm -rf /` is just an argument), split
into simple commands, and wrappers are looked through: `sudo`, `env`, `xargs`, `timeout`,
`bash -c '...'`, `eval`, `find -exec`, `$(...)` and backticks. Patterns that live inside quoted
strings (SQL, `curl | sh`, fork bombs) are matched on a quote-stripped copy of the whole line.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

OK, DANGEROUS, BLOCKED = "ok", "dangerous", "blocked"


@dataclass(frozen=True)
class Verdict:
    level: str = OK
    reason: str = ""

    @property
    def blocked(self) -> bool:
        return self.level == BLOCKED

    @property
    def dangerous(self) -> bool:
        return self.level == DANGEROUS

    @property
    def ok(self) -> bool:
        return self.level == OK


SYSTEM_DIRS = frozenset(
    "/ /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /run /sbin /srv /sys "
    "/usr /usr/bin /usr/lib /usr/local /usr/sbin /var /mnt /media".split()
)
_RAW_DISK = r"/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|disk\d|md\d|dm-\d|mapper/|loop\d)"
_RAW_DISK_RE = re.compile(_RAW_DISK)
_SENSITIVE_PREFIXES = ("/etc/", "~/.ssh/", "/root/.ssh/", "~/.hermes/", "/boot/")

# Rules over the whole normalised command line: (regex, level, reason).
_LINE_RULES = [
    (re.compile(r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}"), BLOCKED, "fork bomb"),
    (re.compile(r"\b(\w+)\s*\(\)\s*\{[^}]*\b\1\s*\|\s*\1\b[^}]*&"), BLOCKED, "fork bomb"),
    (
        re.compile(r"\b(?:curl|wget|fetch)\b[^|;&]*\|\s*(?:sudo\s+)?(?:\S*/)?(?:(?:ba|z|da|k|fi)?sh|python[\d.]*|perl|ruby|node)\b"),
        DANGEROUS,
        "pipes a download straight into an interpreter",
    ),
    (
        re.compile(r"\b(?:ba|z|da)?sh\s+(?:-\w+\s+)*(?:<\(|\$\()\s*(?:curl|wget)\b"),
        DANGEROUS,
        "runs a downloaded script",
    ),
    (re.compile(r"\bDROP\s+(?:TABLE|DATABASE|SCHEMA)\b", re.I), DANGEROUS, "drops a database object"),
    (re.compile(r"\bTRUNCATE\s+TABLE\b", re.I), DANGEROUS, "truncates a database table"),
]
_DELETE_FROM = re.compile(r"\bDELETE\s+FROM\b", re.I)
_WHERE = re.compile(r"\bWHERE\b", re.I)
_SPLIT = re.compile(r"\$\(|&&|\|\||[;&|()`{}\n]")

# Wrappers that run their arguments as a command, with the options that take a value.
_WRAPPERS = {
    "sudo": {"-u", "-g", "-U", "-C", "-D", "-p", "-r", "-t", "-h"},
    "doas": {"-u", "-C"},
    "env": {"-u", "-C", "-S"},
    "nohup": set(),
    "time": set(),
    "command": set(),
    "builtin": set(),
    "exec": {"-a"},
    "eval": set(),
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
    "stdbuf": set(),
    "setsid": set(),
    "xargs": {"-I", "-n", "-P", "-d", "-L", "-s", "-E", "-a", "-i"},
    "watch": {"-n", "-d"},
}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish"}


def normalize(command: str) -> str:
    text = command.replace("\\\n", " ")
    text = re.sub(r"\$(['\"])", r"\1", text)  # $'...' and $"..." quoting
    text = text.replace("\\", "").replace("'", "").replace('"', "")
    text = re.sub(r"\$\{HOME\}|\$HOME\b", "~", text)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return text.strip()


def _simple_commands(text: str) -> list[list[str]]:
    return [part.split() for part in _SPLIT.split(text) if part.strip()]


def _strip_wrappers(tokens: list[str]) -> tuple[list[str], str | None]:
    """Drop `sudo -u x`, `FOO=1`, `env -i`, `timeout 5` ... in front of the real command.

    Returns the remaining tokens, or the script text when the command runs a string as shell code
    (`bash -c '...'`, `eval ...`, `su -c '...'`, `watch '...'`).
    """
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        name = os.path.basename(tok)
        if re.match(r"^[A-Za-z_]\w*=", tok):
            i += 1
        elif name in _WRAPPERS or name == "timeout":
            takes_value = _WRAPPERS.get(name, {"-s", "-k", "--signal", "--kill-after"})
            i += 1
            while i < len(tokens) and (tokens[i].startswith("-") or re.match(r"^[A-Za-z_]\w*=", tokens[i])):
                i += 2 if tokens[i] in takes_value else 1
            if name == "timeout" and i < len(tokens):
                i += 1  # the duration
            if name in ("eval", "watch"):
                return [], " ".join(tokens[i:])
        elif name in _SHELLS or name == "su":
            rest = tokens[i + 1:]
            for j, arg in enumerate(rest):
                if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
                    return [], " ".join(rest[j + 1:])
            return tokens[i:], None
        else:
            break
    return tokens[i:], None


def _flag_cluster(args: list[str], letters: str, longs: tuple[str, ...] = ()) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("--"):
            if arg in longs:
                return True
        elif arg.startswith("-") and any(ch in arg[1:] for ch in letters):
            return True
    return False


def _operands(args: list[str]) -> list[str]:
    out, only_operands = [], False
    for arg in args:
        if arg == "--" and not only_operands:
            only_operands = True
        elif (only_operands or not arg.startswith("-")) and "<" not in arg and ">" not in arg:
            out.append(arg)
    return out


def _is_root_like(path: str) -> bool:
    """`/`, `/*`, `~`, `~/*`, `/usr`, `/etc/` ... : deleting or chmod-ing these recursively is fatal."""
    if path.startswith("~"):
        return re.fullmatch(r"~/*(?:\*|\.\*?)?/*", path) is not None
    if not path.startswith("/"):
        return False
    p = re.sub(r"/+", "/", path)
    p = re.sub(r"(?:/\.)+/?$", "/", p)
    p = re.sub(r"/\*$", "", p).rstrip("/") or "/"
    return p in SYSTEM_DIRS


def _is_sensitive(path: str) -> bool:
    p = re.sub(r"/+", "/", path)
    return any(p.startswith(prefix) or p == prefix.rstrip("/") for prefix in _SENSITIVE_PREFIXES)


def _check_simple(tokens: list[str], depth: int = 0) -> Verdict:
    tokens, script = _strip_wrappers(tokens)
    if script is not None:
        return _check_text(script, depth + 1)
    if not tokens or depth > 4:
        return Verdict()
    name, args = os.path.basename(tokens[0]), tokens[1:]
    ops = _operands(args)
    if name == "rm":
        if "--no-preserve-root" in args:
            return Verdict(BLOCKED, "rm --no-preserve-root")
        if _flag_cluster(args, "rR", ("--recursive",)):
            for op in ops:
                if _is_root_like(op):
                    return Verdict(BLOCKED, f"recursive delete of {op}")
            return Verdict(DANGEROUS, "recursive delete (rm -r)")
    elif name in ("chmod", "chown", "chgrp"):
        recursive = _flag_cluster(args, "R", ("--recursive",))
        targets = ops[1:] if ops else []
        if recursive and any(_is_root_like(t) for t in targets):
            return Verdict(BLOCKED, f"recursive {name} of a system directory")
        if name == "chmod" and ops and re.fullmatch(r"0?777|[ugoa]*\+rwx|a=rwx", ops[0]):
            return Verdict(DANGEROUS, "makes files world-writable (chmod 777)")
        if recursive and name != "chmod":
            return Verdict(DANGEROUS, f"recursive ownership change ({name} -R)")
    elif re.fullmatch(r"mkfs(?:\.\w+)?|mke2fs|wipefs|blkdiscard", name):
        return Verdict(BLOCKED, f"{name} formats or wipes a filesystem")
    elif name in ("mkswap", "shred") and any(_RAW_DISK_RE.match(op) for op in ops):
        return Verdict(BLOCKED, f"{name} on a raw disk device")
    elif name == "dd" and any(a.startswith("of=") and _RAW_DISK_RE.match(a[3:]) for a in args):
        return Verdict(BLOCKED, "dd onto a raw disk device")
    elif name in ("shutdown", "reboot", "halt", "poweroff") or (name in ("init", "telinit") and ops[:1] in (["0"], ["6"])):
        return Verdict(BLOCKED, f"{name} stops or restarts the machine")
    elif name == "systemctl" and ops:
        if ops[0] in ("poweroff", "reboot", "halt", "kexec", "emergency", "rescue"):
            return Verdict(BLOCKED, f"systemctl {ops[0]} stops or restarts the machine")
        if ops[0] in ("stop", "disable", "mask", "kill", "isolate"):
            return Verdict(DANGEROUS, f"systemctl {ops[0]} stops a system service")
    elif name == "service" and len(ops) >= 2 and ops[1] == "stop":
        return Verdict(DANGEROUS, "stops a system service")
    elif name == "kill":
        targets = args
        if targets[:1] in (["-s"], ["-n"]):
            targets = targets[2:]
        elif targets and targets[0].startswith("-") and targets[0] != "--":
            targets = targets[1:]  # the signal: -9, -KILL, even -1 (SIGHUP)
        if "-1" in targets:
            return Verdict(DANGEROUS, "kill -1 signals every process you own")
    elif name in ("pkill", "killall"):
        return Verdict(DANGEROUS, f"{name} kills processes by name")
    elif name == "git":
        return _check_git(args)
    elif name == "find":
        if "-delete" in args:
            return Verdict(DANGEROUS, "find -delete removes every match")
        for flag in ("-exec", "-execdir", "-ok", "-okdir"):
            if flag in args:
                sub = args[args.index(flag) + 1:]
                verdict = _check_simple(sub, depth + 1)
                if verdict.blocked:
                    return verdict
                if sub and os.path.basename(sub[0]) == "rm":
                    return Verdict(DANGEROUS, "find -exec rm removes every match")
                if verdict.dangerous:
                    return verdict
    elif name == "tee":
        if any(_RAW_DISK_RE.match(op) for op in ops):
            return Verdict(BLOCKED, "writes directly to a raw disk device")
        if any(_is_sensitive(op) for op in ops):
            return Verdict(DANGEROUS, "writes into a system or credentials directory")
    elif name in ("cp", "mv", "install", "ln", "rsync") and len(ops) >= 2 and _is_sensitive(ops[-1]):
        return Verdict(DANGEROUS, "writes into a system or credentials directory")
    elif name == "sed" and _flag_cluster(args, "i", ("--in-place",)) and any(_is_sensitive(op) for op in ops):
        return Verdict(DANGEROUS, "edits a file in a system or credentials directory")
    elif name in ("fdisk", "sfdisk", "parted", "gdisk", "sgdisk"):
        return Verdict(DANGEROUS, f"{name} edits a partition table")
    elif name == "crontab" and "-r" in args:
        return Verdict(DANGEROUS, "crontab -r deletes every cron job")
    elif name in ("iptables", "ip6tables") and _flag_cluster(args, "F", ("--flush",)):
        return Verdict(DANGEROUS, "flushes firewall rules")
    return Verdict()


def _check_git(args: list[str]) -> Verdict:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-C", "-c", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(args):
        return Verdict()
    sub, rest = args[i], args[i + 1:]
    if sub == "push" and (
        _flag_cluster(rest, "f", ("--force", "--mirror"))
        or any(a.startswith("--force-with-lease") or a.startswith("+") for a in rest)
    ):
        return Verdict(DANGEROUS, "force push rewrites remote history")
    if sub == "reset" and "--hard" in rest:
        return Verdict(DANGEROUS, "git reset --hard discards uncommitted changes")
    if sub == "clean" and _flag_cluster(rest, "f", ("--force",)):
        return Verdict(DANGEROUS, "git clean -f deletes untracked files")
    return Verdict()


def _delete_without_where(text: str) -> bool:
    for match in _DELETE_FROM.finditer(text):
        statement = text[match.end():].split(";", 1)[0]
        if not _WHERE.search(statement):
            return True
    return False


_SEPARATORS = frozenset({";", "&", "&&", "|", "||", "|&", ";;", "(", ")", "`", "{", "}", "!"})
_REDIRECT = re.compile(r"^\d*(?:<|>|>>|<<|<<-|<<<|>&|<&|&>|&>>|>\|)$")


def _tokenize(text: str) -> list[str] | None:
    """Shell-like tokens (quotes resolved) or None when the quoting is unbalanced."""
    text = text.replace("\\\n", " ").replace("\n", " ; ").replace("`", " ` ")
    text = re.sub(r"\$\{HOME\}|\$HOME\b", "~", text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return None


def _split_commands(tokens: list[str]) -> tuple[list[list[str]], list[str]]:
    """Simple commands, with redirections removed, and the redirection targets."""
    commands: list[list[str]] = [[]]
    targets: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _SEPARATORS or (tok.startswith("$") and tokens[i + 1: i + 2] == ["("]):
            commands.append([])
        elif _REDIRECT.match(tok) and ">" in tok or tok in ("<", "<&"):
            if i + 1 < len(tokens):
                targets.append(tokens[i + 1])
            if commands[-1] and commands[-1][-1].isdigit():
                commands[-1].pop()  # the fd number in front of `2>`
            i += 1
        elif _REDIRECT.match(tok):
            i += 1  # heredoc / herestring delimiter
        else:
            commands[-1].append(tok)
        i += 1
    return [c for c in commands if c], targets


def _check_text(text: str, depth: int = 0) -> Verdict:
    if depth > 4:
        return Verdict()
    tokens = _tokenize(text)
    if tokens is None:  # unbalanced quotes: fall back to a quote-stripped split
        commands, targets = _simple_commands(normalize(text)), []
    else:
        commands, targets = _split_commands(tokens)
    dangerous: Verdict | None = None
    for target in targets:
        if _RAW_DISK_RE.match(target):
            return Verdict(BLOCKED, "writes directly to a raw disk device")
        if _is_sensitive(target):
            dangerous = dangerous or Verdict(DANGEROUS, "writes into a system or credentials directory")
    for command in commands:
        verdict = _check_simple(command, depth)
        # A quoted argument with a command substitution runs it: look inside.
        for tok in command:
            if verdict.blocked:
                break
            if "$(" in tok or "`" in tok:
                inner = _check_text(tok.replace("$(", " ; ").replace(")", " ; ").replace("`", " ; "), depth + 1)
                if inner.blocked or (inner.dangerous and verdict.ok):
                    verdict = inner
        if verdict.blocked:
            return verdict
        if verdict.dangerous and dangerous is None:
            dangerous = verdict
    return dangerous or Verdict()


def check_command(command: str) -> Verdict:
    """Classify a shell command: blocked (never run), dangerous (needs approval) or ok."""
    text = normalize(command)
    dangerous: Verdict | None = None
    for pattern, level, reason in _LINE_RULES:
        if pattern.search(text):
            if level == BLOCKED:
                return Verdict(BLOCKED, reason)
            dangerous = dangerous or Verdict(DANGEROUS, reason)
    if dangerous is None and _delete_without_where(text):
        dangerous = Verdict(DANGEROUS, "DELETE FROM without WHERE empties a table")
    verdict = _check_text(command)
    if verdict.blocked:
        return verdict
    return dangerous or verdict

