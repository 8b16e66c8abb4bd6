"""`write_file`: create or overwrite a file atomically; plus `atomic_write` for the other file tools."""

from __future__ import annotations

from typing import Any

from agent.checkpoints import file_change
from tools.environments.files import atomic_write
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
    if error := file_write_error(files, path, "write_file", ctx, preview=content):
        return tool_error(error)
    data = content.encode("utf-8", errors="replace")
    try:
        with file_change(ctx, files, path, "write_file"):
            existed = files.write(path, data)
    except IsADirectoryError:
        return tool_error(f"{path} is a directory; give a file path")
    except OSError as exc:
        return tool_error(f"cannot write {path}: {exc.strerror or exc}")
    return tool_result(path=path, bytes_written=len(data), action="overwrote" if existed else "created")


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
    )
)
