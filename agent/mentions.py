"""`@path` mentions: `explain @src/app.py` attaches that file to the message (issue 18).

The prompt is sent as typed, followed by one delimited block per attached file:

    explain @src/app.py

    <attached_file path="src/app.py" bytes="812">
    ...the file...
    </attached_file>

Rules, each said in one line on screen (and, for a file not attached, in a note the model sees):
- paths resolve against the working directory (terminal.cwd, else hermes' own); `~` expands;
  `@"a path with spaces"` quotes one; a trailing `.`, `,`, `:` ... after a path is punctuation;
- a missing path is left as typed (it may be a handle, `@decorator`, ...): a warning, no note;
- directories and binary files are refused; so is anything the path policy keeps from the model
  (hermes' credentials) and the user's own keys (`~/.ssh`, `~/.aws/credentials`, ...);
- `mentions.max_bytes` caps the total attached per message; a file past it is cut, with a note.

The message with its blocks is what the model gets and what the session log records.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import Settings

MENTION = re.compile(r'(?:(?<=\s)|^)@(?:"([^"\n]+)"|(\S+))')
TRAILING = ".,;:!?)]}'\""
SNIFF = 8192


@dataclass(frozen=True)
class Attachment:
    """One mentioned file and what was attached of it."""

    typed: str  # as in the prompt
    path: Path
    size: int
    text: str
    sent: int

    @property
    def cut(self) -> bool:
        return self.sent < self.size

    def block(self) -> str:
        tail = (f"\n[cut here: the first {self.sent} of {self.size} bytes are attached (mentions.max_bytes)]"
                if self.cut else "")
        body = self.text.rstrip("\n")
        return f'<attached_file path="{self.typed}" bytes="{self.size}">\n{body}{tail}\n</attached_file>'


@dataclass
class Expanded:
    """The message to send, what was attached, and the lines for the screen."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # told to the model: files mentioned but not attached
    warnings: list[str] = field(default_factory=list)


def mentions(text: str) -> list[str]:
    """The paths mentioned, as typed (quotes removed), in order, each once."""
    found = [m.group(1) or m.group(2) for m in MENTION.finditer(text)]
    return list(dict.fromkeys(p for p in found if p))


def _locate(typed: str, cwd: Path) -> tuple[str, Path]:
    """The path a mention names; trailing punctuation is dropped unless the file's name has it."""
    candidates = [typed]
    stripped = typed.rstrip(TRAILING)
    if stripped and stripped != typed:
        candidates.append(stripped)
    for candidate in candidates:
        path = cwd / os.path.expanduser(candidate)
        if path.exists():
            return candidate, path
    return candidates[-1], cwd / os.path.expanduser(candidates[-1])


def _is_binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # a character cut by the sniff is not binary
    return False


def expand(text: str, cwd: Path, max_bytes: int, refusal: Callable[[Path], str | None]) -> Expanded:
    """Attach the files `text` mentions; `refusal(path)` says why one may not be attached (or None)."""
    result = Expanded(text)
    budget = max_bytes
    for raw in mentions(text):
        typed, path = _locate(raw, cwd)
        if not path.exists():
            result.warnings.append(f"@{typed}: no such file in {cwd}; sent as typed")
            continue
        refused = refusal(path)
        if refused is None and path.is_dir():
            refused = "a directory (mention a file)"
        if refused is None:
            try:
                with path.open("rb") as fh:
                    head = fh.read(SNIFF)
                    size = path.stat().st_size
                    if _is_binary(head):
                        refused = f"a binary file ({size} bytes)"
                    elif budget <= 0 and size:
                        refused = f"over mentions.max_bytes ({max_bytes} bytes per message; this file has {size})"
                    else:
                        take = min(size, budget)
                        data = (head + fh.read(max(take - len(head), 0)))[:take]
            except OSError as exc:
                refused = f"unreadable: {exc.strerror or exc}"
        if refused is not None:
            result.warnings.append(f"@{typed} not attached: {refused}")
            result.notes.append(f"[@{typed} was not attached: {refused}]")
            continue
        body = data.decode("utf-8", errors="ignore")  # a character split by the cut is dropped
        sent = len(body.encode("utf-8"))
        budget -= sent
        attachment = Attachment(typed, path, size, body, sent)
        if attachment.cut:
            result.warnings.append(f"@{typed}: attached the first {sent} of {size} bytes "
                                   f"(mentions.max_bytes is {max_bytes})")
        result.attachments.append(attachment)
    extra = [a.block() for a in result.attachments] + result.notes
    if extra:
        result.text = "\n\n".join([text.rstrip("\n"), *extra])
    return result


def expand_for(settings: Settings, text: str, warn: Callable[[str], None]) -> str:
    """The message to send for a typed prompt: its mentions attached, each problem passed to `warn`."""
    if not settings.mentions.enabled or "@" not in text:
        return text
    from agent.context_files import context_dir
    from tools.path_policy import PathPolicy

    cwd = context_dir(settings)
    policy = PathPolicy.for_host(cwd, hermes_home=settings.home, hermes_cwd=os.getcwd())
    result = expand(text, cwd, settings.mentions.max_bytes, policy.read_refusal)
    for line in result.warnings:
        warn(line)
    return result.text
