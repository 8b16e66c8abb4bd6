"""`write_file`: create or overwrite a file atomically; plus `atomic_write` for the other file tools."""

from __future__ import annotations

from typing import Any

from agent.checkpoints import file_change
from tools.environments.files import atomic_write
from tools.file_patch import _diff as unified_diff
from tools.file_read import task_files
from tools.gate import file_write_error
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

__all__ = ["atomic_write", "write_file"]  # atomic_write moved to tools.environments.files; kept importable


def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    raw_path = args.get("path")
    content = args.get("content")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return tool_error("path must be a non-empty string")
    if not isinstance(content, str):
        return tool_error("content must be a string")
    files, error = task_files(ctx.task_id, ctx.terminal)
    if files is None:
        return tool_error(error)
    path = files.resolve(raw_path)
    before = previous_text(files, path)
    diff = unified_diff(path, before, content) if before is not None else ""
    if error := file_write_error(files, path, "write_file", ctx, preview=diff or content):
        return tool_error(error)
    data = content.encode("utf-8", errors="replace")
    try:
        with file_change(ctx, files, path, "write_file"):
            existed = files.write(path, data)
    except IsADirectoryError:
        return tool_error(f"{path} is a directory; give a file path")
    except OSError as exc:
        return tool_error(f"cannot write {path}: {exc.strerror or exc}")
    if existed and before is not None:  # what changed: for the model, and the REPL's coloured diff
        return tool_result(path=path, bytes_written=len(data), action="overwrote", diff=diff or "(no change)")
    return tool_result(path=path, bytes_written=len(data), action="overwrote" if existed else "created")


DIFF_SOURCE_MAX = 256_000  # bigger files are overwritten without a diff (reading them costs more than it tells)


def previous_text(files: Any, path: str) -> str | None:
    """The text a write is about to replace: None when there is none, or it is binary, big or unreadable."""
    try:
        stat = files.stat(path)
        if stat.kind != "file" or stat.binary or (stat.size or 0) > DIFF_SOURCE_MAX:
            return None
        with files.open(path) as fh:
            return fh.read().decode("utf-8", errors="surrogateescape")
    except (OSError, ValueError):
        return None


TOOL = register(
    Tool(
        name="write_file",
        toolset="file",
        description="Create or overwrite a file with the given content (parent dirs are created).",
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path (relative to the terminal cwd)"},
                "content": {"type": "string", "description": "Full new file content"},
            },
            "required": ["path", "content"],
        },
        handler=write_file,
        quick=True,
    )
)
