"""`patch`: replace a snippet in a file (exact, then whitespace-tolerant) and return the diff."""

from __future__ import annotations

import os
from typing import Any

from agent.checkpoints import file_change
from tools.environments.output import clip_text
from tools.file_read import check_readable_file, task_files
from tools.gate import file_write_error, read_error
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

MAX_DIFF_CHARS = 20_000
MAX_CANDIDATE_SCAN_LINES = 50_000


def _key(line: str) -> str:
    """A line with all whitespace differences (indentation, runs of spaces, trailing) erased."""
    return " ".join(line.split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _exact_positions(text: str, old: str) -> list[int]:
    positions, start = [], 0
    while (pos := text.find(old, start)) != -1:
        positions.append(pos)
        start = pos + len(old)
    return positions


def _trim_blank(lines: list[str], max_lead: int | None = None, max_trail: int | None = None):
    """Drop blank lines at both ends (at most max_lead / max_trail); return (lines, lead, trail)."""
    lead = 0
    while lead < len(lines) and not lines[lead].strip() and (max_lead is None or lead < max_lead):
        lead += 1
    trail = 0
    while (
        trail < len(lines) - lead
        and not lines[len(lines) - 1 - trail].strip()
        and (max_trail is None or trail < max_trail)
    ):
        trail += 1
    return lines[lead: len(lines) - trail], lead, trail


def _fuzzy_starts(file_keys: list[str], old_keys: list[str]) -> list[int]:
    n, starts, i = len(old_keys), [], 0
    while i <= len(file_keys) - n:
        if file_keys[i] == old_keys[0] and file_keys[i: i + n] == old_keys:
            starts.append(i)
            i += n
        else:
            i += 1
    return starts


def _reindent(new_lines: list[str], old_base: str, file_base: str) -> list[str]:
    out = []
    for line in new_lines:
        if not line.strip():
            out.append("")
            continue
        lead = _indent(line)
        if lead.startswith(old_base):
            out.append(file_base + line[len(old_base):])
        else:  # less indented than the snippet's first line: dedent the file's indentation as much
            cut = len(old_base) - len(lead)
            out.append(file_base[: max(len(file_base) - cut, 0)] + line.lstrip())
    return out


def _closest(file_lines: list[str], old_keys: list[str]) -> str:
    """A hint with the file lines that look most like old_string, for the model to retry with."""
    import difflib

    file_keys = [_key(line) for line in file_lines[:MAX_CANDIDATE_SCAN_LINES]]
    if not file_keys:
        return ""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(old_keys[0])
    scored = []
    for i, key in enumerate(file_keys):
        matcher.set_seq1(key)
        if matcher.real_quick_ratio() > 0.3:
            scored.append((matcher.quick_ratio(), i))
    scored.sort(reverse=True)
    target = "\n".join(old_keys)
    best_ratio, best_start = 0.0, -1
    for _, i in scored[:20]:
        window = "\n".join(file_keys[i: i + len(old_keys)])
        ratio = difflib.SequenceMatcher(None, target, window, autojunk=False).ratio()
        if ratio > best_ratio:
            best_ratio, best_start = ratio, i
    if best_start < 0 or best_ratio < 0.3:
        return ""
    end = min(best_start + max(len(old_keys), 1), len(file_lines))
    shown = file_lines[best_start: min(end, best_start + 12)]
    body = "\n".join(f"{best_start + k + 1:6d}\t{line.rstrip(chr(10)).rstrip(chr(13))}" for k, line in enumerate(shown))
    return (
        f" Closest text is at lines {best_start + 1}-{end} ({best_ratio:.0%} similar); use read_file to "
        f"copy it exactly:\n{body}"
    )


def _apply_fuzzy(text: str, old: str, new: str, replace_all: bool) -> tuple[str | None, int, str]:
    """(new_text, count, error). Matches whole lines ignoring whitespace; re-indents new_string."""
    file_lines = text.splitlines(keepends=True)
    old_lines, lead, trail = _trim_blank(old.splitlines())
    if not old_lines:
        return None, 0, "old_string contains only whitespace"
    old_keys = [_key(line) for line in old_lines]
    file_keys = [_key(line) for line in file_lines]
    starts = _fuzzy_starts(file_keys, old_keys)
    if not starts:
        return None, 0, "old_string not found in the file (not even ignoring whitespace)." + _closest(file_lines, old_keys)
    if len(starts) > 1 and not replace_all:
        where = ", ".join(str(s + 1) for s in starts[:20])
        return None, len(starts), (
            f"old_string matches {len(starts)} places (ignoring whitespace) at lines {where}; include more "
            "surrounding lines to make it unique, or set replace_all=true"
        )
    new_lines = _trim_blank(new.splitlines(), lead, trail)[0] if new.strip() else []
    old_base = _indent(old_lines[0])
    for start in reversed(starts):
        matched = file_lines[start: start + len(old_lines)]
        newline = "\r\n" if matched[0].endswith("\r\n") else "\n"
        block = [line + newline for line in _reindent(new_lines, old_base, _indent(matched[0]))]
        if block and not matched[-1].endswith(("\n", "\r")):
            block[-1] = block[-1].rstrip("\r\n")  # the match ended the file without a newline
        file_lines[start: start + len(old_lines)] = block
    return "".join(file_lines), len(starts), ""


def _diff(path: str, before: str, after: str) -> str:
    import difflib

    name = os.path.basename(path)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return clip_text(text, MAX_DIFF_CHARS)[0]


def patch(args: dict[str, Any], ctx: ToolContext) -> str:
    raw_path, old, new = args.get("path"), args.get("old_string"), args.get("new_string")
    replace_all = bool(args.get("replace_all"))
    if not isinstance(raw_path, str) or not raw_path.strip():
        return tool_error("path must be a non-empty string")
    if not isinstance(old, str) or not isinstance(new, str):
        return tool_error("old_string and new_string must be strings")
    if old == "":
        return tool_error("old_string is empty; to create or overwrite a whole file use write_file")
    if old == new:
        return tool_error("old_string and new_string are identical; nothing to change")
    files, error = task_files(ctx.task_id, ctx.terminal)
    if files is None:
        return tool_error(error)
    path = files.resolve(raw_path)
    error = read_error(files, path, ctx.task_id, ctx.terminal) or check_readable_file(path, files)
    if error:
        return tool_error(error)
    try:
        with files.open(path) as fh:
            text = fh.read().decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        return tool_error(f"cannot read {path}: {exc.strerror or exc}")
    new = new.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates from JSON

    positions = _exact_positions(text, old)
    if len(positions) > 1 and not replace_all:
        where = ", ".join(str(_line_of(text, p)) for p in positions[:20])
        return tool_error(
            f"old_string matches {len(positions)} places at lines {where}; include more surrounding "
            "lines to make it unique, or set replace_all=true",
            matches=len(positions),
        )
    if positions:
        after = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        count, how = len(positions) if replace_all else 1, "exact"
    else:
        fuzzy, count, error = _apply_fuzzy(text, old, new, replace_all)
        if fuzzy is None:
            return tool_error(error, matches=count)
        after, how = fuzzy, "whitespace-insensitive"
    if after == text:
        return tool_error("the replacement leaves the file unchanged")
    diff = _diff(path, text, after)
    if error := file_write_error(files, path, "patch", ctx, preview=diff):
        return tool_error(error)
    try:
        with file_change(ctx, files, path, "patch"):
            files.write(path, after.encode("utf-8", errors="surrogateescape"))
    except OSError as exc:
        return tool_error(f"cannot write {path}: {exc.strerror or exc}")
    return tool_result(path=path, replacements=count, match=how, diff=diff)


TOOL = register(
    Tool(
        name="patch",
        toolset="file",
        description=(
            "Replace old_string with new_string in a file and return the diff. old_string must match "
            "exactly one place (whitespace differences are tolerated) unless replace_all is true."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path"},
                "old_string": {"type": "string", "description": "Text to replace, with enough context to be unique"},
                "new_string": {"type": "string", "description": "Replacement text"},
                "replace_all": {"type": "boolean", "description": "Replace every match (default false)"},
            },
            "required": ["path", "old_string", "new_string"],
        },
        handler=patch,
        quick=True,
    )
)
