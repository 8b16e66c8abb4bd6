"""`write_file`: create or overwrite a file atomically; plus `atomic_write` for the other file tools."""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Any

from tools.environments.manager import resolve_path
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import; os.umask has no getter


def atomic_write(path: str, data: bytes) -> bool:
    """Write via a temp file in the same directory + rename. Follows symlinks, keeps the file mode.

    Returns True when the file already existed (overwritten), False when it was created.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)  # what a plain open() would have created (mkstemp uses 0600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return mode is not None


def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    raw_path = args.get("path")
    content = args.get("content")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return tool_error("path must be a non-empty string")
    if not isinstance(content, str):
        return tool_error("content must be a string")
    path = resolve_path(ctx.task_id, raw_path)
    if os.path.isdir(path):
        return tool_error(f"{path} is a directory; give a file path")
    data = content.encode("utf-8", errors="replace")
    try:
        existed = atomic_write(path, data)
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
