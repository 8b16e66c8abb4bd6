"""The one approval gate: every side effect a tool is about to cause is decided here.

    decide(Command("rm -r build", verdict), mode="ask")          -> Decision("ask", "recursive delete (rm -r)")
    decide(FileWrite("/repo/a.py", where), mode="auto-edit")     -> Decision("allow", ...)
    decide(FileWrite("~/.bashrc", protected), mode="auto-edit")  -> Decision("ask", "shell start-up file ~/.bashrc")
    decide(ToolCall("mcp__x__delete", read_only=False), "read-only") -> Decision("deny", ...)

`decide` is pure (data in, data out). `check(action, ctx)` runs it for a tool call: asks the user
through the same `ctx.approve(subject, reason)` the terminal has always used, and returns the error
the model gets back, or None when the action may go ahead. Nobody to ask (`ctx.approve is None`:
one-shot, batch) turns "ask" into "deny", so non-interactive runs only do what the mode allows.

Modes (`approvals.mode`): `read-only` (plan: no writes, only read-only commands), `ask` (default:
file edits and dangerous commands ask), `auto-edit` (file edits inside the workspace run; commands
as in ask), `yolo` (everything except the hard block list and reading the agent's credentials).
Protected paths (tools/path_policy.py) ask in every mode short of yolo. The command classifier is a
heuristic; the OS sandbox (tools/environments/sandbox.py) is the boundary.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from tools.path_policy import OUTSIDE, PROTECTED, WORKSPACE, PathPolicy, WriteClass

READ_ONLY, ASK, AUTO_EDIT, YOLO = "read-only", "ask", "auto-edit", "yolo"
MODES = (READ_ONLY, ASK, AUTO_EDIT, YOLO)
DEFAULT_MODE = ASK

HARMLESS, NEEDS_APPROVAL, BLOCKED = "harmless", "needs-approval", "blocked"

Outcome = Literal["allow", "ask", "deny"]


class ClassifierVerdict(Protocol):
    """What the command classifier (tools/approval.py) says: level and a short reason."""

    level: str
    reason: str


@dataclass(frozen=True)
class CommandVerdict:
    level: str = HARMLESS  # HARMLESS, NEEDS_APPROVAL or BLOCKED
    reason: str = ""

    @classmethod
    def of(cls, verdict: ClassifierVerdict) -> CommandVerdict:
        """Adapt the classifier's levels (ok / dangerous / blocked) to the gate's."""
        level = {"ok": HARMLESS, "dangerous": NEEDS_APPROVAL, "blocked": BLOCKED}.get(verdict.level, verdict.level)
        return cls(level, verdict.reason)


@dataclass(frozen=True)
class Command:
    command: str
    verdict: CommandVerdict
    unsandboxed: bool = False  # a re-run outside the OS sandbox after the sandbox refused a write


@dataclass(frozen=True)
class FileWrite:
    path: str
    where: WriteClass
    tool: str = "write_file"


@dataclass(frozen=True)
class ToolCall:
    """Any other tool (e.g. an MCP tool): read-only ones always run."""

    name: str
    read_only: bool


Action = Command | FileWrite | ToolCall


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""
    rule: str | None = None  # what a "session" answer allows (commands: the classifier's narrow rules)
    once_only: bool = False  # no remembering: asked every time (protected paths)


class Question(str):
    """The `reason` handed to `ctx.approve(subject, reason)` for what is not a plain dangerous
    command (file writes, other tools, re-runs outside the sandbox). It reads as the reason text;
    the REPL's prompt also reads `rule` (the session key) and `once_only` (offer no remembering)."""

    rule: str
    once_only: bool

    def __new__(cls, text: str, rule: str, once_only: bool = False) -> Question:
        question = super().__new__(cls, text)
        question.rule, question.once_only = rule, once_only
        return question


@dataclass(frozen=True)
class Answer:
    """What `ctx.approve` may return instead of a bare bool: how the user answered. Truthy when the
    action may go ahead. `how`: once | session | always | deny | timeout (no answer within `waited`
    seconds) | interrupt (Ctrl-C at the question: deny and stop the turn). `rule`: what a session or
    always answer stored."""

    how: str
    rule: str | None = None
    waited: float = 0.0

    def __bool__(self) -> bool:
        return self.how in ("once", "session", "always")


def parse_mode(value: str | None) -> str:
    """A valid mode name (ValueError with the choices otherwise); None means the default."""
    if value is None or value == "":
        return DEFAULT_MODE
    mode = str(value).strip().lower().replace("_", "-")
    if mode not in MODES:
        raise ValueError(f"unknown approval mode {value!r}; choose one of {', '.join(MODES)}")
    return mode


def decide(action: Action, mode: str) -> Decision:
    """allow / ask / deny for one action in one mode (interactivity is applied by `check`)."""
    if isinstance(action, Command):
        return _decide_command(action, mode)
    if isinstance(action, FileWrite):
        return _decide_write(action, mode)
    if action.read_only:
        return Decision("allow")
    if mode == READ_ONLY:
        return Decision("deny", f"read-only mode: {action.name} may change things")
    if mode == YOLO:
        return Decision("allow")
    reason = f"{action.name} is not marked read-only and may change things"
    return Decision("ask", reason, rule=reason)


def _decide_command(action: Command, mode: str) -> Decision:
    verdict = action.verdict
    if verdict.level == BLOCKED:
        return Decision("deny", f"command blocked: {verdict.reason}. It is on the hard block list and never runs, "
                                "even with --yolo.")
    if action.unsandboxed:
        if mode == READ_ONLY:
            return Decision("deny", "read-only mode: commands never run outside the sandbox")
        if mode == YOLO:
            return Decision("allow")
        reason = "the sandbox refused a write; re-run outside the sandbox"
        return Decision("ask", reason, rule=f"{reason}: {action.command}")  # as narrow as the command
    if mode == READ_ONLY:
        why = read_only_refusal(action.command)
        if why:
            return Decision("deny", f"read-only mode (plan): {why}. Only read-only commands run; "
                                    "describe the change instead, or the user can switch mode.")
        return Decision("allow")
    if verdict.level == NEEDS_APPROVAL and mode != YOLO:
        return Decision("ask", verdict.reason, rule=verdict.reason)
    return Decision("allow")


def _decide_write(action: FileWrite, mode: str) -> Decision:
    where = action.where
    if mode == READ_ONLY:
        return Decision("deny", f"read-only mode (plan): {action.tool} may not change files; describe the "
                                "change instead, or the user can switch mode.")
    if mode == YOLO:
        return Decision("allow")
    if where.kind == PROTECTED:
        reason = f"writes a protected path: {where.why}"
        return Decision("ask", reason, rule=f"{reason} [{where.path}]", once_only=True)
    if where.kind == OUTSIDE:
        reason = f"writes outside the workspace: {where.why}"
        return Decision("ask", reason, rule=f"writes outside the workspace, under {os.path.dirname(where.path)}")
    if mode == AUTO_EDIT:
        return Decision("allow")
    return Decision("ask", "edits a file in the workspace", rule="edits files in the workspace")


# -- read-only commands (plan mode) ---------------------------------------------------------------

READ_ONLY_COMMANDS = frozenset(
    "ls cat head tail less more wc grep egrep fgrep rg ag find fd tree file stat du df pwd echo printf "
    "which type whereis realpath readlink basename dirname date whoami id uname hostname env printenv "
    "diff cmp sort uniq cut tr column nl od hexdump xxd md5sum sha1sum sha256sum true false test [ jq "
    "awk ps uptime free git".split()
)
_GIT_READ_ONLY = frozenset("status log diff show branch rev-parse ls-files blame grep describe shortlog "
                           "remote tag reflog cat-file ls-tree".split())
_FIND_WRITES = frozenset({"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"})
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "\n"})


def read_only_refusal(command: str) -> str | None:
    """None when every part of `command` only reads; else why not (unparsable counts as not)."""
    if "`" in command or "$(" in command or "<(" in command or ">(" in command:
        return "command substitution is not allowed"
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return "the command could not be parsed"
    simple: list[list[str]] = [[]]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _SEPARATORS:
            simple.append([])
        elif re.fullmatch(r"\d*(>>?|>\||&>>?)", tok) or tok.endswith(">"):
            target = tokens[i + 1] if i + 1 < len(tokens) else ""
            if target != "/dev/null" and not target.startswith("&"):
                return "output redirection writes a file"
            i += 1
        elif tok in ("<", "<<", "<<<"):
            i += 1
        else:
            simple[-1].append(tok)
        i += 1
    for words in filter(None, simple):
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            words = words[1:]
        if not words:
            continue
        name, args = os.path.basename(words[0]), words[1:]
        if name not in READ_ONLY_COMMANDS:
            return f"{name} is not on the read-only list"
        if name == "find" and _FIND_WRITES & set(args):
            return "find with -delete/-exec/-fprint changes things"
        if name == "git":
            why = _git_refusal(args)
            if why:
                return why
        if name == "awk" and any("system" in a or ">" in a for a in args):
            return "awk with system() or output redirection"
        if name in ("sort",) and any(a.startswith("-o") or a.startswith("--output") for a in args):
            return "sort -o writes a file"
        if name in ("env", "printenv") and len(args) > (0 if name == "env" else 1):
            return f"{name} with a command runs it"
    return None


def _git_refusal(args: list[str]) -> str | None:
    sub = args[0] if args and not args[0].startswith("-") else ""  # `git -C dir ...`: not worth parsing
    rest = args[1:]
    if sub not in _GIT_READ_ONLY:
        return f"git {sub} is not a read-only git command" if sub else "git with options first is not on the list"
    if any(a.startswith("--output") for a in rest):
        return "git --output writes a file"
    positional = [a for a in rest if not a.startswith("-")]
    if sub in ("branch", "tag", "remote") and (positional or any(
            a in ("-d", "-D", "--delete", "-m", "-M", "-c", "-C", "-f", "--force", "-u", "--set-upstream-to")
            for a in rest)):
        return f"git {sub} with arguments changes the repository; only listing is read-only"
    if sub == "reflog" and positional[:1] in (["expire"], ["delete"]):
        return "git reflog expire/delete changes the repository"
    return None


# -- running the gate for a tool call -------------------------------------------------------------

def mode_of(ctx: Any) -> str:
    """The approval mode for this tool call: `ctx.approval_mode` (the settings' `approvals.mode`, where
    --yolo, --approval-mode and HERMES_YOLO end up); `ctx.yolo` (/yolo) wins."""
    if getattr(ctx, "yolo", False):
        return YOLO
    try:
        return parse_mode(getattr(ctx, "approval_mode", None))
    except ValueError:
        return DEFAULT_MODE


def policy_for(task_id: str | None, settings: Any = None) -> PathPolicy:
    """The path policy for a task on this machine: its workspace is the terminal's start directory."""
    from recording.paths import hermes_home
    from tools.environments.manager import workspace_root

    return _policy(workspace_root(task_id, settings), str(hermes_home()), os.getcwd(), str(Path.home()), tempfile.gettempdir())


@functools.lru_cache(maxsize=16)
def _policy(workspace: str, hermes_home: str, cwd: str, home: str, temp_dir: str) -> PathPolicy:
    return PathPolicy.for_host(workspace, hermes_home=hermes_home, hermes_cwd=cwd, home=home, temp_dir=temp_dir)


def check(action: Action, ctx: Any, *, subject: str | None = None) -> str | None:
    """Decide, ask the user if needed; None = go ahead, else the error message for the model."""
    decision = decide(action, mode_of(ctx))
    if decision.outcome == "allow":
        return None
    if decision.outcome == "deny":
        return decision.reason
    subject = subject or _subject(action)
    if ctx.approve is None:
        return (f"{_what(action)} needs approval ({decision.reason}), which cannot be given in non-interactive "
                "mode. Use a safer approach, or the user can rerun with a more permissive --approval-mode "
                "(or --yolo).")
    text = decision.rule or decision.reason
    # A dangerous command is asked as before (the prompt derives its narrow rules from the command);
    # anything else carries its own session key, and protected paths are never remembered.
    reason = text if isinstance(action, Command) and not action.unsandboxed else Question(
        text, decision.rule or text, decision.once_only)
    try:
        approved = ctx.approve(subject, reason)
    except Exception as exc:  # an approval UI failure must deny, not crash
        return f"{_what(action)} needs approval ({decision.reason}) and asking failed: {exc}"
    if not approved:
        return refusal(action, decision, getattr(approved, "how", "deny"), getattr(approved, "waited", 0.0), ctx)
    return None


def refusal(action: Action, decision: Decision, how: str, waited: float, ctx: Any) -> str:
    """The model's error for an action the user did not allow: a timeout or a Ctrl-C reads as such,
    not as "the user denied" (a timeout says nothing about what the user wants)."""
    what = _what(action)
    if how == "timeout":
        return (f"approval timed out: nobody answered the approval question for this {what} ({decision.reason}) "
                f"within {waited:g} s, so it did not run. The user did not deny it; they may be away. Do not "
                "retry it in a loop; finish what you can without it or ask the user.")
    if how == "interrupt":
        if getattr(ctx, "interrupt", None) is not None:
            ctx.interrupt.set()  # the loop stops after this round of tool calls: no further model call
        return (f"interrupted: the user pressed Ctrl-C at the approval question for this {what} "
                f"({decision.reason}); it did not run and the turn was stopped.")
    return (f"the user denied this {what} ({decision.reason}). Do not retry it; ask or take "
            "another approach.")


def _subject(action: Action) -> str:
    if isinstance(action, Command):
        return action.command
    if isinstance(action, FileWrite):
        return f"{action.tool} {action.where.path or action.path}"
    return action.name


def _what(action: Action) -> str:
    if isinstance(action, Command):
        return "command"
    if isinstance(action, FileWrite):
        return "file write"
    return "tool call"


__all__ = [
    "ASK", "AUTO_EDIT", "BLOCKED", "Answer", "HARMLESS", "MODES", "NEEDS_APPROVAL", "OUTSIDE", "PROTECTED", "READ_ONLY",
    "WORKSPACE", "YOLO", "Command", "CommandVerdict", "Decision", "FileWrite", "Question", "ToolCall", "check",
    "decide",
    "mode_of", "parse_mode", "policy_for", "read_only_refusal",
]


# -- the file tools' side of the gate ---------------------------------------------------------------

def write_class(files: Any, path: str, task_id: str | None, terminal: Any = None) -> WriteClass:
    """Where a file tool's write lands. On a remote backend the container or host is the boundary:
    only what runs code on this side (git hooks, hermes' files in a shared start dir) is protected."""
    if getattr(files, "remote", False):
        from tools.path_policy import remote_protected_reason

        why = remote_protected_reason(path, getattr(getattr(files, "env", None), "cwd", None))
        return WriteClass(PROTECTED, why, path) if why else WriteClass(WORKSPACE, "", path)
    return policy_for(task_id, terminal).classify_write(path)


PREVIEW_LINES = 12


def file_write_error(files: Any, path: str, tool: str, ctx: Any, preview: str = "") -> str | None:
    """The gate for write_file / patch: None = write, else the error for the model. `preview` (the
    diff, or the new content) is shown under the question, cut to a dozen lines."""
    where = write_class(files, path, ctx.task_id, ctx.terminal)
    subject = f"{tool} {where.path or path}"
    if preview:
        lines = preview.splitlines()
        more = f"\n   … {len(lines) - PREVIEW_LINES} more lines" if len(lines) > PREVIEW_LINES else ""
        subject += "\n" + "\n".join(f"   │ {line[:200]}" for line in lines[:PREVIEW_LINES]) + more
    return check(FileWrite(path, where, tool), ctx, subject=subject)


def read_error(files: Any, path: str, task_id: str | None, terminal: Any = None) -> str | None:
    """read_file / patch / search_files / browser file:// may not read credentials (any mode, yolo
    included): the agent's own and the user's keys (`PathPolicy.read_refusal`)."""
    if getattr(files, "remote", False):
        return None
    return policy_for(task_id, terminal).read_refusal(path)
