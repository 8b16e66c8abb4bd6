"""The `process` tool: look after commands started with `terminal(background=true)`.

Actions: list, poll (status and output since the last look), read (output from an offset), wait
(until it exits, up to a timeout) and kill. Output is read where the process runs: the host file for
the local backend, otherwise through the task's environment (`tail -c`), so every backend works.
"""

from __future__ import annotations

import os
import shlex
import time
from typing import Any

from tools.environments.manager import BackendUnavailable, background_processes, get_environment
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

READ_LIMIT = 20_000  # characters of output per call; the model pages with offset
MAX_WAIT = 600.0

DESCRIPTION = (
    "Manage commands started with terminal(background=true): action=list | poll (status and new "
    "output) | read (output from offset) | wait (until exit or timeout seconds) | kill."
)

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["list", "poll", "read", "wait", "kill"]},
        "pid": {"type": "integer", "description": "Process id from terminal(background=true)"},
        "offset": {"type": "integer", "description": "read: byte offset to start from (default 0)"},
        "timeout": {"type": "number", "description": "wait: seconds (default 30)"},
    },
    "required": ["action"],
}

# What `poll` has already shown, per (task, pid): the next poll returns only what is new.
_seen: dict[tuple[str, int], int] = {}


def _status(proc: Any) -> dict[str, Any]:
    running = proc.running()
    fields: dict[str, Any] = {"pid": proc.pid, "command": proc.command, "status": "running" if running else "exited"}
    if not running:
        fields["exit_code"] = proc.exit_code()
    return fields


def _read(task_id: str, proc: Any, offset: int, limit: int = READ_LIMIT) -> tuple[str, int, int]:
    """(text, bytes read, total bytes written so far)."""
    env = get_environment(task_id)
    if env.backend == "local":
        try:
            with open(proc.output_file, "rb") as fh:
                total = os.fstat(fh.fileno()).st_size
                fh.seek(offset)
                data = fh.read(limit)
        except FileNotFoundError:
            return "", 0, 0
        return data.decode("utf-8", "replace"), len(data), total
    path = shlex.quote(proc.output_file)
    result = env.execute(f"wc -c <{path} 2>/dev/null; tail -c +{offset + 1} {path} 2>/dev/null | head -c {limit}",
                         timeout=30)
    size, _, text = result.output.partition("\n")
    return text, len(text.encode("utf-8", "replace")), int(size.strip() or 0)


def _find(task_id: str, pid: Any) -> Any:
    if not isinstance(pid, int):
        raise LookupError("pid (an integer from terminal(background=true)) is required")
    for proc in background_processes(task_id):
        if proc.pid == pid:
            return proc
    known = ", ".join(str(p.pid) for p in background_processes(task_id)) or "none"
    raise LookupError(f"no background process {pid} in this session (running here: {known})")


def process(args: dict[str, Any], ctx: ToolContext) -> str:
    action = args.get("action")
    task = ctx.task_id
    try:
        if action == "list":
            return tool_result(processes=[_status(p) for p in background_processes(task)], error=None)
        proc = _find(task, args.get("pid"))
        if action == "kill":
            proc.kill()
            return tool_result(**_status(proc), error=None)
        if action == "wait":
            timeout = min(max(float(args.get("timeout") or 30), 0.0), MAX_WAIT)
            deadline = time.monotonic() + timeout
            while proc.running() and time.monotonic() < deadline:
                if ctx.interrupt is not None and ctx.interrupt.wait(0.2):
                    return tool_error("wait interrupted by the user", **_status(proc))
                if ctx.interrupt is None:
                    time.sleep(0.2)
            action = "poll"  # report like a poll: status and the output not seen yet
        if action == "poll":
            start = _seen.get((task, proc.pid), 0)
            text, count, total = _read(task, proc, start)
            _seen[(task, proc.pid)] = start + count
            return tool_result(**_status(proc), output=text, output_bytes=total, error=None)
        if action == "read":
            offset = max(int(args.get("offset") or 0), 0)
            text, count, total = _read(task, proc, offset)
            end = offset + count
            more = {"next_offset": end} if end < total else {}
            return tool_result(**_status(proc), output=text, output_bytes=total, **more, error=None)
        return tool_error(f"unknown action {action!r}; use list, poll, read, wait or kill")
    except LookupError as exc:
        return tool_error(str(exc))
    except BackendUnavailable as exc:
        return tool_error(str(exc))


TOOL = register(Tool(name="process", toolset="terminal", description=DESCRIPTION, parameters=PARAMETERS,
                     handler=process))
