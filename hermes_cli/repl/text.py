"""Plain-text helpers for the renderer: escape filtering, one-line summaries of tool calls, clipping."""

from __future__ import annotations

import json
import re
from typing import Any

from hermes_cli.repl.markdown_stream import cell_len

VERBOSE_LINES = 40

# Which argument says what a tool call is about.
KEY_ARGS = {
    "terminal": ("command",), "process": ("action", "pid"), "read_file": ("path",), "write_file": ("path",), "patch": ("path",),
    "search_files": ("pattern",), "skill_view": ("name",), "skills_list": ("category",),
}
PREFIX_KEY_ARGS = {"web_": ("url", "urls", "query"), "browser_": ("url", "ref", "text", "key", "selector")}

_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\^_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all C0/C1 controls but \t and \n
_NON_SGR = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-ln-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[^\[\]])")
_TRAILING = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)+$")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def clean_text(text: str) -> str:
    """Model or tool text made safe to render: no escape sequences or other control characters."""
    return _CONTROL.sub("", _ESCAPE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


class EscapeFilter:
    """clean_text for a stream: an escape sequence split across deltas is removed whole."""

    def __init__(self) -> None:
        self.held = ""

    def feed(self, text: str) -> str:
        text, self.held = self.held + text, ""
        at = text.rfind("\x1b")
        if at >= 0 and len(text) - at < 64 and not _ESCAPE.match(text, at):
            text, self.held = text[:at], text[at:]
        return clean_text(text)


def one_line(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return " ".join(clean_text(str(value)).split())


def truncate(text: str, width: int) -> str:
    """Cut `text` to at most `width` cells, ending in … when cut."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    used, out = 0, []
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def key_argument(name: str, arguments: dict[str, Any] | None) -> str:
    """The one argument that tells what a call does (terminal: command, read_file: path, …)."""
    if not isinstance(arguments, dict) or not arguments:
        return ""
    keys = KEY_ARGS.get(name)
    if keys is None:
        keys = next((k for prefix, k in PREFIX_KEY_ARGS.items() if name.startswith(prefix)), ())
    for key in keys:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip() or isinstance(value, list) and value:
            return one_line(value)
    for value in arguments.values():
        if isinstance(value, str) and value.strip():
            return one_line(value)
    return ""


def failure_reason(result: str) -> str:
    """A short why from a tool result: 'exit 2', 'timed out', 'interrupted' or the error text."""
    try:
        data = json.loads(result)
    except (json.JSONDecodeError, TypeError):
        return ""
    if not isinstance(data, dict):
        return ""
    if data.get("interrupted"):
        return "interrupted"
    if data.get("timed_out"):
        return "timed out"
    parts = []
    code = data.get("exit_code")
    if isinstance(code, int) and code not in (0, -1):
        parts.append(f"exit {code}")
    error = data.get("error")
    if error:
        parts.append(truncate(one_line(str(error).strip().splitlines()[0] if str(error).strip() else error), 60))
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def clean_ansi(text: str, *, strip_blank: bool = True) -> str:
    """rich output tidied: only SGR sequences, no trailing padding, no blank lines around it."""
    lines = []
    for line in _NON_SGR.sub("", text).split("\n"):
        stripped = _TRAILING.sub("", line)
        if "\x1b[" in stripped:
            stripped += "\x1b[0m"
        lines.append(stripped)
    if strip_blank:
        while lines and not _SGR.sub("", lines[0]).strip():
            lines.pop(0)
    while lines and not _SGR.sub("", lines[-1]).strip():
        lines.pop()
    return "".join(line + "\n" for line in lines)


def clip_block(text: str, width: int, max_lines: int = VERBOSE_LINES) -> str:
    lines = text.rstrip("\n").split("\n")
    limit = max(width * 3, 200)
    clipped = [line if len(line) <= limit else line[:limit] + "…" for line in lines[:max_lines]]
    if len(lines) > max_lines:
        clipped.append(f"… {len(lines) - max_lines} more line{'s' if len(lines) - max_lines != 1 else ''}")
    return "\n".join(clipped)
