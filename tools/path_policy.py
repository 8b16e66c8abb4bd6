"""Which paths the model may write or read: protected places, the workspace, the agent's credentials.

    policy = PathPolicy.for_host(workspace="/repo", hermes_home=Path("~/.hermes"), hermes_cwd="/repo")
    policy.classify_write("/repo/src/a.py")     -> WriteClass("workspace")
    policy.classify_write("/repo/link-to-bashrc") -> WriteClass("protected", "shell start-up file ~/.bashrc")
    policy.classify_write("/opt/x")             -> WriteClass("outside", "outside the workspace")
    policy.read_refusal("~/.hermes/.env")       -> "… holds the agent's credentials …"

Paths are resolved first (symlinks and `..`, also for a file that does not exist yet: its nearest
existing parent is resolved), so a link inside the workspace that points at `~/.bashrc` is the
protected `~/.bashrc`. Protected means "hermes or the user's login would run or trust what is
written there": shell start-up files, `~/.ssh`, crontabs, autostart and systemd units, git hooks
and config, and everything hermes itself reads for configuration ($HERMES_HOME, ./.env,
./cli-config.yaml). The lists are data so the sandbox (tools/environments/sandbox.py) can hide or
freeze the same places.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

WORKSPACE, OUTSIDE, PROTECTED = "workspace", "outside", "protected"

# Relative to $HOME: files and directories a login, a shell or a desktop session runs or trusts.
HOME_STARTUP_FILES = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".bash_aliases",
    ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc",
    ".login", ".logout", ".inputrc", ".xprofile", ".xinitrc", ".xsession", ".xsessionrc",
    ".pam_environment", ".gitconfig", ".config/git/config", ".config/git/hooks",
)
HOME_PROTECTED_DIRS = (
    ".ssh", ".gnupg", ".config/fish", ".config/autostart", ".config/systemd", ".local/share/systemd",
    ".config/environment.d", ".config/upstart", ".kde/Autostart", ".config/plasma-workspace/env",
)
SYSTEM_PROTECTED = (
    "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zsh", "/etc/zshrc",
    "/etc/zshenv", "/etc/environment", "/etc/ssh", "/root/.ssh", "/etc/crontab", "/etc/cron.d",
    "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly", "/etc/anacrontab",
    "/var/spool/cron", "/var/spool/anacron", "/etc/systemd", "/etc/xdg/autostart", "/etc/init.d",
    "/etc/rc.local", "/etc/sudoers", "/etc/sudoers.d", "/etc/ld.so.preload", "/etc/passwd", "/etc/shadow",
)
# Relative to $HOME: the user's own keys and credential stores. No file tool reads them and `@path`
# never attaches them (`PathPolicy.read_refusal`): their text must not reach the endpoint.
HOME_SECRET_FILES = (
    ".ssh", ".gnupg", ".aws/credentials", ".aws/config", ".netrc", ".git-credentials", ".pgpass",
    ".docker/config.json", ".kube/config", ".config/gh/hosts.yml", ".npmrc", ".pypirc", ".config/gcloud",
    ".azure", ".password-store",
)
SYSTEM_SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/ssh", "/root", "/etc/sudoers", "/etc/sudoers.d")
# Files hermes reads from its working directory (agent/config.py).
HERMES_CWD_FILES = (".env", "cli-config.yaml")
# Under $HERMES_HOME the model may read these (they hold no credentials); everything else is refused.
HERMES_HOME_READABLE = ("skills",)


@dataclass(frozen=True)
class WriteClass:
    kind: str  # WORKSPACE, OUTSIDE or PROTECTED
    why: str = ""
    path: str = ""  # the resolved path the decision was made on


def resolve(path: str | os.PathLike[str]) -> str:
    """Absolute, `~` expanded, symlinks and `..` resolved, even when the file does not exist yet."""
    path = os.path.expanduser(os.fspath(path))
    try:
        return os.path.realpath(path)
    except OSError:  # e.g. /proc/1/root unreadable: judged unresolved (the /proc rules refuse such doors)
        return os.path.normpath(os.path.abspath(path))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _tilde(path: str, home: str) -> str:
    return "~" + path[len(home):] if _under(path, home) and home != "/" else path


@dataclass
class PathPolicy:
    """Where writes are routine (the workspace), where they need a yes (outside, protected), and which
    files the model must never read. Build it with `for_host`; every path given is resolved."""

    workspace: list[str]
    home: str
    hermes_home: str
    hermes_cwds: list[str] = field(default_factory=list)  # where hermes reads ./.env and ./cli-config.yaml
    protected: list[tuple[str, str]] = field(default_factory=list)  # (resolved path, why)

    @classmethod
    def for_host(
        cls,
        workspace: str | os.PathLike[str],
        *,
        hermes_home: str | os.PathLike[str],
        hermes_cwd: str | os.PathLike[str] | None = None,
        home: str | os.PathLike[str] | None = None,
        temp_dir: str | None = None,
    ) -> PathPolicy:
        home_dir = resolve(home if home is not None else Path.home())
        ws = resolve(workspace)
        cwds = list(dict.fromkeys([ws, resolve(hermes_cwd if hermes_cwd is not None else Path.cwd())]))
        protected: list[tuple[str, str]] = []
        for name in HOME_STARTUP_FILES:
            protected.append((resolve(Path(home_dir, name)), f"shell start-up file ~/{name}"))
        for name in HOME_PROTECTED_DIRS:
            protected.append((resolve(Path(home_dir, name)), f"login/autostart directory ~/{name}"))
        for path in SYSTEM_PROTECTED:
            protected.append((resolve(path), f"system start-up or credentials file {path}"))
        hh = resolve(hermes_home)
        protected.append((hh, "hermes' own configuration ($HERMES_HOME)"))
        for cwd in cwds:
            for name in HERMES_CWD_FILES:
                protected.append((os.path.join(cwd, name), f"hermes' own configuration ./{name}"))
        roots = [ws, resolve(temp_dir or tempfile.gettempdir())]
        return cls(
            workspace=[r for r in roots if r != "/"],  # started at the root: only temp is the workspace
            home=home_dir,
            hermes_home=hh,
            hermes_cwds=cwds,
            protected=protected,
        )

    def protected_reason(self, resolved: str) -> str | None:
        """Why writing `resolved` (already resolved) is protected, or None."""
        parts = resolved.split("/")
        for i, part in enumerate(parts[:-1]):
            if part == ".git" and parts[i + 1] in ("hooks", "config"):
                return f"git {parts[i + 1]} ({_tilde(resolved, self.home)}) runs code on git commands"
        for root, why in self.protected:
            if _under(resolved, root):
                return why
        return None

    def classify_write(self, path: str | os.PathLike[str]) -> WriteClass:
        resolved = resolve(path)
        why = self.protected_reason(resolved)
        if why:
            return WriteClass(PROTECTED, why, resolved)
        if any(_under(resolved, root) for root in self.workspace):
            return WriteClass(WORKSPACE, "", resolved)
        return WriteClass(OUTSIDE, f"{_tilde(resolved, self.home)} is outside the workspace", resolved)

    def credential_files(self) -> list[str]:
        """Files holding the agent's credentials that exist now (the sandbox hides them)."""
        names = [os.path.join(self.hermes_home, ".env")] + [os.path.join(c, n) for c in self.hermes_cwds
                                                            for n in HERMES_CWD_FILES]
        return [p for p in names if os.path.isfile(p)]

    def read_refusal(self, path: str | os.PathLike[str]) -> str | None:
        """Why the model may not see the contents of `path`, or None. The one gate for everything that
        hands a file's text to the model: read_file, patch, search_files, browser file:// URLs, `@path`
        mentions and context files. Refused: the agent's credentials and settings, the user's keys and
        credential stores (~/.ssh, ~/.aws/credentials, ~/.netrc, ...), system secrets, and hermes' own
        process under /proc. `path` is resolved first: a symlink or `..` is judged by where it lands."""
        resolved = resolve(path)
        if why := _proc_refusal(resolved):
            return why
        if _under(resolved, self.hermes_home):
            if any(_under(resolved, os.path.join(self.hermes_home, ok)) for ok in HERMES_HOME_READABLE):
                return None
            return (f"{_tilde(resolved, self.home)} is hermes' own configuration and may hold the agent's "
                    "credentials; the model may not read it")
        for cwd in self.hermes_cwds:
            for name in HERMES_CWD_FILES:
                if resolved == os.path.join(cwd, name):
                    return (f"{_tilde(resolved, self.home)} is read by hermes for its own settings and "
                            "credentials; the model may not read it")
        for name in HOME_SECRET_FILES:
            if _under(resolved, os.path.join(self.home, name)):
                return f"{_tilde(resolved, self.home)} holds keys or credentials; the model may not read it"
        for root in SYSTEM_SECRET_FILES:
            if _under(resolved, root) and not _under(self.home, root):  # run as root, /root is home
                return f"{resolved} holds system keys or credentials; the model may not read it"
        return None


# Magic links to a process's root, cwd and open files: resolving them needs rights the caller may
# lack (then the path stays unresolved) or lands in another mount namespace (a container).
_PROC_DOORS = frozenset({"root", "cwd", "fd", "map_files"})
_PROC_SECRETS = frozenset({"environ", "cmdline", "mem", "auxv", "maps", "smaps", "pagemap", "syscall", "stack"})


def _proc_refusal(resolved: str) -> str | None:
    """The file tools run inside hermes: /proc/self/environ would be hermes' own environment (its
    API keys), /proc/<pid>/cmdline its --api-key. Any process's environ/cmdline/memory, and anything
    of this process or its threads, is refused."""
    parts = resolved.split("/")
    if len(parts) < 3 or parts[1] != "proc":
        return None
    if parts[2] in ("self", "thread-self") or (parts[2].isdigit() and _is_own_task(int(parts[2]))):
        return "this is hermes' own process (its environment and arguments hold the agent's credentials)"
    if parts[2].isdigit() and len(parts) > 4 and parts[3] in _PROC_DOORS:
        return (f"/proc/<pid>/{parts[3]} leads into another process's view of the file system, past the "
                "credentials check; the file tools do not follow it (read the file by its own path)")
    if parts[2].isdigit() and (parts[-1] in _PROC_SECRETS or "task" in parts[3:]):
        return f"{parts[-1]} of a process may hold credentials; the file tools do not read it"
    return None


def _is_own_task(pid: int) -> bool:
    return pid == os.getpid() or os.path.exists(f"/proc/{os.getpid()}/task/{pid}")


def remote_protected_reason(path: str, start_dir: str | None) -> str | None:
    """On a remote backend (the container or host is the boundary) only what runs code on this side
    matters: git hooks/config and the hermes files in a directory shared with this machine."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == ".git" and parts[i + 1] in ("hooks", "config"):
            return f"git {parts[i + 1]} runs code on git commands"
    if start_dir and os.path.dirname(path) == start_dir.rstrip("/") and os.path.basename(path) in HERMES_CWD_FILES:
        return f"hermes' own configuration ./{os.path.basename(path)}"
    return None
