"""`read_file`: numbered lines with paging; plus helpers shared by the other file tools."""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from tools.environments.files import LocalFiles, RemoteFiles, files_for
from tools.environments.manager import BackendUnavailable
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

DEFAULT_LIMIT = 500
MAX_LINE_CHARS = 2000
MAX_CONTENT_CHARS = 100_000  # a page never exceeds this, whatever `limit` says

Files = LocalFiles | RemoteFiles
_LOCAL = LocalFiles()


def task_files(task_id: str | None, settings: Any = None) -> tuple[Files | None, str | None]:
    """(files, None) for where the task's terminal runs, or (None, error) if its backend cannot start.
    `settings`: the tool context's terminal settings (None: the configured ones)."""
    try:
        return files_for(task_id, settings), None
    except BackendUnavailable as exc:
        return None, str(exc)


def similar_names(path: str, limit: int = 5, files: Files = _LOCAL) -> list[str]:
    """Paths in the nearest existing parent directory whose names resemble the missing one."""
    import difflib

    parent, name = os.path.split(path)
    try:
        # Walk up to the nearest directory that exists (one round trip per level on a remote backend).
        while (entries := files.listdir(parent or ".")) is None and parent not in ("", "/"):
            parent, name = os.path.split(parent)
    except OSError:
        return []
    if entries is None:
        return []
    lowered = {entry.lower(): entry for entry in entries}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.5)
    stem = os.path.splitext(name)[0].lower()
    if stem:
        close += [e for e in lowered if e.startswith(stem) and e not in close][: limit - len(close)]
    return [os.path.join(parent, lowered[c]) for c in close[:limit]]


def missing_file_error(path: str, files: Files = _LOCAL) -> str:
    suggestions = similar_names(path, files=files)
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return f"file not found: {path}.{hint}"


def check_readable_file(path: str, files: Files = _LOCAL) -> str | None:
    """An error message if `path` is not an existing regular text file, else None."""
    try:
        info = files.stat(path)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if info.kind == "missing":
        return missing_file_error(path, files)
    if info.kind == "dir":
        return f"{path} is a directory, not a file; list it with the terminal or search_files target=files"
    if info.kind != "file":
        return f"{path} is not a regular file (device, socket or pipe)"
    if info.binary:
        return f"{path} is a binary file ({info.size} bytes); only text files can be read or patched"
    return None


def count_lines(fh: BinaryIO) -> int:
    """Lines as `cat -n` counts them: a last line without a newline still counts."""
    count, last = 0, b"\n"
    while chunk := fh.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (last != b"\n")


def _clip_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f" [... line truncated, {len(line) - MAX_LINE_CHARS} more characters]"


def read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    raw_path = args.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return tool_error("path must be a non-empty string")
    files, error = task_files(ctx.task_id, ctx.terminal)
    if files is None:
        return tool_error(error)
    path = files.resolve(raw_path)
    try:
        offset = int(args.get("offset") or 1)
        limit = int(args.get("limit") or DEFAULT_LIMIT)
    except (TypeError, ValueError):
        return tool_error("offset and limit must be integers")
    if offset < 1:
        return tool_error("offset is a 1-based line number and must be >= 1")
    if limit < 1:
        return tool_error("limit must be >= 1")
    from tools.gate import read_error  # late: gate imports the environment manager

    error = read_error(files, path, ctx.task_id, ctx.terminal) or check_readable_file(path, files)
    if error:
        return tool_error(error)

    numbered: list[str] = []
    size = 0
    next_offset = None
    try:
        with files.open(path) as fh:
            total = count_lines(fh)
            fh.seek(0)  # one open for both passes
            for number, raw in enumerate(fh, start=1):
                if number < offset:
                    continue
                if len(numbered) >= limit or size >= MAX_CONTENT_CHARS:
                    next_offset = number
                    break
                line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
                entry = f"{number:6d}\t{_clip_line(line)}"
                numbered.append(entry)
                size += len(entry) + 1
    except OSError as exc:
        return tool_error(f"cannot read {path}: {exc.strerror or exc}")

    if total == 0:
        return tool_result(path=path, content="", total_lines=0, note="file is empty")
    if offset > total:
        return tool_error(f"offset {offset} is past the end of {path} ({total} lines)", total_lines=total)
    fields: dict[str, Any] = {"path": path, "content": "\n".join(numbered), "total_lines": total}
    if next_offset is not None:
        end = next_offset - 1
        fields["next_offset"] = next_offset
        fields["note"] = f"showing lines {offset}-{end} of {total}; call again with offset={next_offset} for more"
    return tool_result(**fields)


TOOL = register(
    Tool(
        name="read_file",
        toolset="file",
        description="Read a text file as numbered lines (cat -n style), paged with offset/limit.",
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path (relative to the terminal cwd)"},
                "offset": {"type": "integer", "description": "First line, 1-based (default 1)"},
                "limit": {"type": "integer", "description": "Max lines (default 500)"},
            },
            "required": ["path"],
        },
        handler=read_file,
        quick=True,
    )
)
