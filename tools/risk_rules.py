"""The rules themselves: which single commands (argv already expanded) are blocked or dangerous.

`command_risk` walks a parsed line and calls these for every command the line would run.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tools.path_policy import HOME_SECRET_FILES

OK, DANGEROUS, BLOCKED = "ok", "dangerous", "blocked"


@dataclass(frozen=True)
class Finding:
    """One thing a command would do that needs approval (or is blocked).

    `pattern` and `targets` make the narrow "always" rule (`rm -r` under `./build`); a finding
    without them can only be allowed for the exact command line.
    """

    level: str
    reason: str
    pattern: str | None = None
    targets: tuple[str, ...] = ()


SYSTEM_DIRS = frozenset(
    "/ /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /run /sbin /srv /sys "
    "/usr /usr/bin /usr/lib /usr/local /usr/sbin /var /mnt /media".split()
)
RAW_DISK_RE = re.compile(r"/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|disk\d|md\d|dm-\d|mapper/|loop\d)")
_SENSITIVE_PREFIXES = ("/etc/", "~/.ssh/", "/root/.ssh/", "~/.hermes/", "/boot/")

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash"})
INTERPRETERS = frozenset({"python", "python3", "python2", "pypy", "pypy3", "perl", "ruby", "node", "nodejs",
                          "php", "irb"})
DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "xh"})

# Wrappers: options that take a separate value; the wrapped command follows the options.
_WRAPPER_VALUE_OPTS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-U", "-C", "-D", "-p", "-r", "-t", "-h", "-T", "--user", "--group"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "nohup": frozenset(), "time": frozenset({"-f", "-o"}), "builtin": frozenset(), "exec": frozenset({"-a"}),
    "command": frozenset(), "nice": frozenset({"-n", "--adjustment"}), "ionice": frozenset({"-c", "-n", "-p"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}), "setsid": frozenset(), "unbuffer": frozenset(),
    "xargs": frozenset({"-I", "-n", "-P", "-d", "-L", "-s", "-E", "-a", "--delimiter", "--max-args",
                        "--max-procs", "--arg-file"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "strace": frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-P"}), "ltrace": frozenset({"-o", "-e", "-p", "-s", "-u"}),
    "chroot": frozenset({"--userspec", "--groups"}), "runuser": frozenset({"-u", "-g", "-G", "--user", "--group"}),
    "flock": frozenset({"-w", "-E", "--timeout", "--conflict-exit-code"}), "taskset": frozenset(),
    "chrt": frozenset(), "caffeinate": frozenset(), "catchsegv": frozenset(), "firejail": frozenset(),
    "unshare": frozenset(), "nsenter": frozenset({"-t", "--target"}), "proxychains": frozenset(),
    "proxychains4": frozenset(), "fakeroot": frozenset(), "valgrind": frozenset(),
    "systemd-run": frozenset({"-p", "--property", "-u", "--unit", "-E", "--setenv", "-M", "--machine", "--uid",
                              "--gid", "--nice", "--working-directory", "-H", "--host", "--description"}),
}
_APPLET_RUNNERS = frozenset({"busybox", "toybox"})
_OPERAND_BEFORE_COMMAND = {"timeout": 1, "chroot": 1, "flock": 1, "taskset": 1, "chrt": 1}


def strip_wrapper(name: str, args: list[str | None]) -> tuple[str, int] | None:
    """For a wrapper command, ("run", i) where the wrapped argv starts in args, ("script", i) when
    args[i:] is shell text, ("lookup", 0) when nothing runs; None when `name` is not a wrapper."""
    if name == "eval":
        return "script", 0
    if name in _APPLET_RUNNERS:
        return "run", 0 if args and args[0] not in ("--help", "--list") else len(args)
    if name in ("su", "sg", "script"):
        for i, arg in enumerate(args):
            if arg in ("-c", "--command") or re.fullmatch(r"-[a-zA-Z]*c", arg or ""):
                return "script", i + 1
            if (arg or "").startswith("--command="):
                return "script", i  # the text is in the option itself; close enough to check
        return "lookup", 0
    if name == "watch":
        i = 0
        while i < len(args) and (args[i] or "").startswith("-"):
            i += 2 if args[i] in ("-n", "-d", "--interval") else 1
        return "script", i
    if name not in _WRAPPER_VALUE_OPTS:
        return None
    takes_value = _WRAPPER_VALUE_OPTS[name]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg is None:
            break
        if arg == "--":
            i += 1
            break
        if name == "env" and re.match(r"^[A-Za-z_]\w*=", arg):
            i += 1
            continue
        if name == "env" and arg in ("-S", "--split-string"):
            return "script", i + 1
        if name == "command" and arg in ("-v", "-V"):
            return "lookup", 0
        if name == "flock" and arg in ("-c", "--command"):
            return "script", i + 1
        if name == "nice" and re.fullmatch(r"-\d+", arg):
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            break
        i += 2 if arg in takes_value else 1
    i += _OPERAND_BEFORE_COMMAND.get(name, 0)
    if name == "sudo" and i >= len(args) and any(a in ("-s", "-i") for a in args):
        return "lookup", 0  # an interactive root shell: nothing in the line runs
    return "run", i


def is_root_like(path: str) -> bool:
    """`/`, `/*`, `~`, `~/*`, `/usr`, `/etc/` ...: deleting or chmod-ing these recursively is fatal."""
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


def check_redirect_target(target: str) -> Finding | None:
    if RAW_DISK_RE.match(target):
        return Finding(BLOCKED, "writes directly to a raw disk device")
    if _is_sensitive(target):
        return Finding(DANGEROUS, "writes into a system or credentials directory")
    return None


def _flag(args: list[str | None], letters: str, longs: tuple[str, ...] = ()) -> bool:
    for arg in args:
        if arg is None:
            continue
        if arg == "--":
            return False
        if arg.startswith("--"):
            if arg in longs:
                return True
        elif arg.startswith("-") and any(ch in arg[1:] for ch in letters):
            return True
    return False


def _operands(args: list[str | None]) -> list[str | None]:
    out: list[str | None] = []
    only = False
    for arg in args:
        if arg == "--" and not only:
            only = True
        elif only or arg is None or not arg.startswith("-") or arg == "-":
            out.append(arg)
    return out


def norm_path(path: str) -> str:
    """A lexical spelling for rules: `build/` -> `./build`, `/a//b/` -> `/a/b`."""
    normed = posixpath.normpath(path)
    if normed.startswith(("/", "~", "./", "../")) or normed in (".", ".."):
        return normed
    return "./" + normed


def _scoped(level: str, reason: str, pattern: str, ops: list[str | None]) -> Finding:
    if ops and all(op is not None for op in ops):
        return Finding(level, reason, pattern, tuple(norm_path(op) for op in ops if op is not None))
    return Finding(level, reason)


def world_writable_mode(mode: str) -> bool:
    """True for modes that give others write access: 777, 666, o+w, a=rwx, u=rwx,g=rwx,o=rwx."""
    if re.fullmatch(r"[0-7]{1,4}", mode):
        return bool(int(mode[-1]) & 2)
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXstugo]*)+)", clause)
        if not m:
            continue
        who = m.group(1)
        for op, perms in re.findall(r"([-+=])([rwxXstugo]*)", m.group(2)):
            if op in "+=" and "w" in perms and ("o" in who or "a" in who):
                return True
    return False


def _setuid_mode(mode: str) -> bool:
    if re.fullmatch(r"[0-7]{4}", mode):
        return bool(int(mode[0]) & 4)
    return bool(re.search(r"(?:^|,)[ua]*\+[rwx]*s", mode))


def check_plain_command(name: str, args: list[str | None], *, via_xargs: bool = False) -> Finding | None:
    """The verdict for one command after wrappers are stripped (None: nothing to ask about)."""
    ops = _operands(args)
    if name == "rm":
        if "--no-preserve-root" in args:
            return Finding(BLOCKED, "rm --no-preserve-root")
        if _flag(args, "rR", ("--recursive",)):
            for op in ops:
                if op is not None and is_root_like(op):
                    return Finding(BLOCKED, f"recursive delete of {op}")
            if via_xargs:
                return Finding(DANGEROUS, "xargs rm -r deletes every directory named on its input")
            if ops:
                return _scoped(DANGEROUS, "recursive delete (rm -r)", "rm -r", ops)
            return None
        if via_xargs:
            return Finding(DANGEROUS, "xargs rm deletes every file named on its input")
        return None
    if name in ("chmod", "chown", "chgrp"):
        return _check_perm(name, args)
    if re.fullmatch(r"mkfs(?:\.\w+)?|mke2fs|wipefs|blkdiscard", name):
        return Finding(BLOCKED, f"{name} formats or wipes a filesystem")
    if name in ("mkswap", "shred") and any(op and RAW_DISK_RE.match(op) for op in ops):
        return Finding(BLOCKED, f"{name} on a raw disk device")
    if name == "dd" and any(a and a.startswith("of=") and RAW_DISK_RE.match(a[3:]) for a in args):
        return Finding(BLOCKED, "dd onto a raw disk device")
    if name in ("shutdown", "reboot", "halt", "poweroff") or (name in ("init", "telinit") and ops[:1] in (["0"], ["6"])):
        return Finding(BLOCKED, f"{name} stops or restarts the machine")
    if name == "systemctl" and ops:
        if ops[0] in ("poweroff", "reboot", "halt", "kexec", "emergency", "rescue"):
            return Finding(BLOCKED, f"systemctl {ops[0]} stops or restarts the machine")
        if ops[0] in ("stop", "disable", "mask", "kill", "isolate"):
            return Finding(DANGEROUS, f"systemctl {ops[0]} stops a system service")
    if name == "service" and len(ops) >= 2 and ops[1] == "stop":
        return Finding(DANGEROUS, "stops a system service")
    if name == "kill":
        targets = args
        if targets[:1] in (["-s"], ["-n"]):
            targets = targets[2:]
        elif targets and targets[0] and targets[0].startswith("-") and targets[0] != "--":
            targets = targets[1:]  # the signal: -9, -KILL, even -1 (SIGHUP)
        if "-1" in targets:
            return Finding(DANGEROUS, "kill -1 signals every process you own")
    if name in ("pkill", "killall"):
        return Finding(DANGEROUS, f"{name} kills processes by name")
    if name == "git":
        return _check_git(args)
    if name == "tee":
        if any(op and RAW_DISK_RE.match(op) for op in ops):
            return Finding(BLOCKED, "writes directly to a raw disk device")
        if any(op and _is_sensitive(op) for op in ops):
            return Finding(DANGEROUS, "writes into a system or credentials directory")
    if name in ("cp", "mv", "install", "ln", "rsync") and len(ops) >= 2 and ops[-1] and _is_sensitive(ops[-1]):
        return Finding(DANGEROUS, "writes into a system or credentials directory")
    if name == "sed" and _flag(args, "i", ("--in-place",)) and any(op and _is_sensitive(op) for op in ops):
        return Finding(DANGEROUS, "edits a file in a system or credentials directory")
    if name == "rsync" and any(a is not None and a.startswith("--delete") for a in args):
        return Finding(DANGEROUS, "rsync --delete removes files missing from the source")
    if name in ("fdisk", "sfdisk", "parted", "gdisk", "sgdisk"):
        return Finding(DANGEROUS, f"{name} edits a partition table")
    if name == "crontab" and "-r" in args:
        return Finding(DANGEROUS, "crontab -r deletes every cron job")
    if name in ("iptables", "ip6tables") and _flag(args, "F", ("--flush",)):
        return Finding(DANGEROUS, "flushes firewall rules")
    return None



# Commands that name files without printing what is in them: `ls ~/.ssh`, `chmod 600 ~/.ssh/id_rsa`.
NAMES_ONLY = frozenset({"ls", "stat", "test", "[", "du", "file", "chmod", "chown", "chgrp", "mkdir", "touch",
                        "realpath", "readlink", "dirname", "basename", "echo", "printf"})


def credential_finding(args: Iterable[str | None], cwd: str | None = ".") -> Finding | None:
    """A command line naming one of the user's key or credential stores (~/.ssh/..., $HOME/.netrc,
    /home/me/.aws/credentials, `cd ~ && cat .netrc`) asks first in every mode but yolo: what it
    prints goes to the model. The file tools refuse these outright (`PathPolicy.read_refusal`); a
    shell can read them by a path no parser sees, so this is a speed bump, and the sandbox the
    boundary. `cwd`: where relative paths point (the walker's `cd` tracking; "." unknown/start)."""
    home = os.path.expanduser("~").rstrip("/")
    prefixes = ("~", "$HOME", *((home,) if home else ()))
    for arg in args:
        if not arg:
            continue
        for path in {arg, arg.partition("=")[2]}:  # --identity=~/.ssh/key
            if path and cwd not in (None, ".") and not path.startswith(("/", "~", "$")):
                path = posixpath.join(cwd, path)
            for prefix in prefixes:
                if path == prefix or path.startswith(prefix + "/"):
                    rel = posixpath.normpath(path[len(prefix):].lstrip("/") or ".")
                    if any(rel == name or rel.startswith(name + "/") for name in HOME_SECRET_FILES):
                        return Finding(DANGEROUS, f"reads the user's keys or credentials (~/{rel})")
    return None

def _check_perm(name: str, args: list[str | None]) -> Finding | None:
    recursive = _flag(args, "R", ("--recursive",))
    rest: list[str | None] = []
    for arg in args:  # chmod's mode may itself start with '-' (chmod -w f)
        if arg in ("-R", "--recursive", "-v", "-c", "-f", "--verbose", "--changes", "--silent", "-h", "-H",
                   "-L", "-P", "--dereference", "--no-dereference"):
            continue
        if arg is not None and re.fullmatch(r"-[RvcfhHLP]{2,}", arg):
            continue
        rest.append(arg)
    if not rest:
        return None
    mode, targets = rest[0], rest[1:]
    if recursive and any(t is not None and is_root_like(t) for t in targets):
        return Finding(BLOCKED, f"recursive {name} of a system directory")
    if name == "chmod" and mode is not None:
        if world_writable_mode(mode):
            return _scoped(DANGEROUS, f"makes files world-writable (chmod {mode})", "chmod world-writable", targets)
        if _setuid_mode(mode):
            return _scoped(DANGEROUS, f"sets the setuid bit (chmod {mode})", "chmod setuid", targets)
    if recursive and name != "chmod":
        return _scoped(DANGEROUS, f"recursive ownership change ({name} -R)", f"{name} -R", targets)
    return None


def _check_git(args: list[str | None]) -> Finding | None:
    i = 0
    while i < len(args) and args[i] is not None and str(args[i]).startswith("-"):
        i += 2 if args[i] in ("-C", "-c", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(args):
        return None
    sub, rest = args[i], args[i + 1:]
    if sub == "push" and (
        _flag(rest, "f", ("--force", "--mirror"))
        or any(a is not None and (a.startswith("--force-with-lease") or a.startswith("+")) for a in rest)
    ):
        return Finding(DANGEROUS, "force push rewrites remote history")
    if sub == "reset" and "--hard" in rest:
        return Finding(DANGEROUS, "git reset --hard discards uncommitted changes")
    if sub == "clean" and _flag(rest, "f", ("--force",)):
        return Finding(DANGEROUS, "git clean -f deletes untracked files")
    return None


# -- code given to interpreters ---------------------------------------------------------------------
_RECURSIVE_DELETE = re.compile(
    r"\brmtree\b|\bremove_tree\b|\bremovedirs\b|\brm_rf?\b|\bremove_dir\b|\bremove_entry(?:_secure)?\b"
    r"|\brimraf\b|\b(?:rmSync|rmdirSync|rm|rmdir)\s*\([^)]*\brecursive\s*:\s*true|\bemptyDirSync\b|\bremoveSync\b"
)
_FORK = re.compile(r"\bfork\b|\bspawn\b.*\b(?:argv|\$0|__filename|process\.argv)")
_LOOP = re.compile(r"\b(?:while|for|loop|until|times|each)\b|\bdo\s*\{|\bgoto\b")
_SHELL_OUT = re.compile(r"\b(?:system|popen|Popen|spawn\w*|exec\w*|check_output|check_call|getoutput|"
                        r"getstatusoutput|run|call|qx)\b|`")
_DECODES = re.compile(r"b64decode|base64|fromCharCode|fromhex|unhexlify|codecs\.decode|\bpack\(|rot13|\batob\b"
                      r"|Buffer\.from|\bdecode\(|\\x[0-9a-fA-F]{2}")
_RUNS = re.compile(r"\b(?:system|exec\w*|eval|popen|Popen|spawn\w*|subprocess|child_process|getoutput)\b|`")
_AWK_PIPE = re.compile(r"\|\s*\"[^\"]*\b(?:ba|z|da)?sh\b|\bsystem\s*\(\s*[a-zA-Z_$]")
_STRING = re.compile(r"'((?:[^'\\\n]|\\.)*)'|\"((?:[^\"\\\n]|\\.)*)\"|`([^`]*)`")


class TextChecker(Protocol):
    def text(self, text: str, what: str = "command", *, lenient: bool = False) -> None: ...


def interpreter_code_findings(name: str, code: str, checker: TextChecker) -> list[Finding]:
    """Findings for inline interpreter code; strings it would hand to a shell are checked as commands."""
    out: list[Finding] = []
    if _RECURSIVE_DELETE.search(code):
        out.append(Finding(DANGEROUS, f"{name} code deletes a directory tree"))
    if _FORK.search(code) and _LOOP.search(code):
        out.append(Finding(DANGEROUS, f"fork bomb shape: {name} code forks in a loop"))
    if _DECODES.search(code) and _RUNS.search(code):
        out.append(Finding(DANGEROUS, f"{name} code runs decoded or hidden text"))
    if name in ("awk", "gawk", "mawk", "nawk") and _AWK_PIPE.search(code):
        out.append(Finding(DANGEROUS, f"{name} program hands text built at run time to a shell"))
    if _SHELL_OUT.search(code):
        for match in _STRING.finditer(code):
            literal = next(g for g in match.groups() if g is not None)
            if " " in literal.strip():
                checker.text(literal.replace("\\'", "'").replace('\\"', '"'), f"{name} shell string", lenient=True)
    return out
