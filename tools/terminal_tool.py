"""The `terminal` tool: run a shell command in the task's environment (cwd and exports persist)."""

from __future__ import annotations

from typing import Any

from agent.checkpoints import terminal_command
from tools import gate
from tools.approval import check_command
from tools.environments.manager import BackendUnavailable, get_environment, start_background
from tools.environments.sudo import current_password, remember_password, uses_sudo
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

MIN_TIMEOUT, MAX_TIMEOUT = 1, 3600

DESCRIPTION = (
    "Run a bash command. cwd and exported variables persist between calls; output over ~30k chars is "
    "cut in the middle. Use background=true for servers and other long-running processes."
)

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "Command to run"},
        "timeout": {"type": "integer", "description": "Seconds before it is killed (default 60)"},
        "background": {"type": "boolean", "description": "Start detached; returns pid and log file"},
        "profile": {"type": "string", "description": "Modal sandbox profile (modal backend only)"},
    },
    "required": ["command"],
}


def _approval_error(command: str, ctx: ToolContext) -> str | None:
    """None when the command may run; otherwise the error the model gets back (tools/gate.py)."""
    return gate.check(gate.Command(command, gate.CommandVerdict.of(check_command(command))), ctx)


def _rerun_outside_sandbox(env: Any, command: str, result: Any, timeout: float, ctx: ToolContext):
    """The sandbox refused a write: re-run outside it only if the gate says so (the user answers the
    prompt, or the mode is yolo). Returns the result to report and a note for the model."""
    verdict = gate.CommandVerdict.of(check_command(command))
    refusal = gate.check(gate.Command(command, verdict, unsandboxed=True), ctx)
    if refusal is not None:
        return result, (f"the OS sandbox refused a write outside the workspace; not re-run outside it: {refusal}")
    rerun = env.execute(command, timeout=timeout, interrupt=ctx.interrupt, sandboxed=False)
    return rerun, "the OS sandbox refused a write; re-run outside the sandbox as approved"


def _timeout(raw: Any, default: float) -> float:
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return float(min(max(value, MIN_TIMEOUT), MAX_TIMEOUT))


def terminal(args: dict[str, Any], ctx: ToolContext) -> str:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        return tool_error("command must be a non-empty string")
    error = _approval_error(command, ctx)
    if error:
        return tool_error(error, output="", exit_code=-1)
    try:
        if args.get("background"):
            proc = start_background(ctx.task_id, command, settings=ctx.terminal)
            return tool_result(pid=proc.pid, output_file=proc.output_file, status="started", error=None)
        profile = args.get("profile") if isinstance(args.get("profile"), str) else None
        env = get_environment(ctx.task_id, profile=profile or None, settings=ctx.terminal)
    except BackendUnavailable as exc:
        return tool_error(str(exc), output="", exit_code=-1)
    except OSError as exc:
        return tool_error(f"could not start bash: {exc}", output="", exit_code=-1)
    timeout = _timeout(args.get("timeout"), env.default_timeout)
    try:
        _ask_sudo_password(env, command, ctx)
        with terminal_command(ctx, env):  # files it changes in the workspace are saved first (/rewind)
            if env.sandbox is not None and gate.mode_of(ctx) == gate.READ_ONLY:
                # plan mode: the OS enforces "no writes" too, not only the read-only command list
                result = env.execute(command, timeout=timeout, interrupt=ctx.interrupt, sandbox_mode="read-only")
            else:
                result = env.execute(command, timeout=timeout, interrupt=ctx.interrupt)
            escape_note = None
            if result.sandbox_blocked:
                result, escape_note = _rerun_outside_sandbox(env, command, result, timeout, ctx)
    except OSError as exc:
        return tool_error(f"could not run the command: {exc}", output="", exit_code=-1)
    fields: dict[str, Any] = {"output": result.output, "exit_code": result.exit_code, "error": None}
    if escape_note:
        fields["sandbox"] = escape_note
    if result.timed_out:
        fields["timed_out"] = True
        fields["error"] = f"command timed out after {timeout:g} s and was killed; raise timeout or use background=true"
    if result.interrupted:
        fields["interrupted"] = True
        fields["error"] = "command interrupted by the user"
    if result.truncated_chars:
        fields["truncated"] = result.truncated_chars
    return tool_result(**fields)


def _ask_sudo_password(env: Any, command: str, ctx: ToolContext) -> None:
    """In the REPL, a command using sudo with no SUDO_PASSWORD set asks the user once per session
    (`ctx.extra["ask_sudo_password"]` returns the password, or None after a timeout or refusal).
    Not asked when there is no sudo, or it needs no password there (root, NOPASSWD)."""
    ask = ctx.extra.get("ask_sudo_password")
    if ask is None or ctx.extra.get("sudo_asked") or not uses_sudo(command) or current_password():
        return
    probe = "command -v sudo >/dev/null 2>&1 || exit 0; command sudo -n true >/dev/null 2>&1"
    if env.execute(probe, timeout=10).exit_code == 0:
        return
    ctx.extra["sudo_asked"] = True
    password = ask()
    if password:
        remember_password(password)
        env.set_sudo_password(password)


def _check() -> str | None:
    import shutil

    from tools.environments.manager import BackendUnavailable, current_settings

    try:
        backend = current_settings().backend
    except BackendUnavailable as exc:
        return str(exc)
    if backend == "local" and shutil.which("bash") is None:
        return "needs bash on PATH"
    return None


TOOL = register(Tool(name="terminal", toolset="terminal", description=DESCRIPTION, parameters=PARAMETERS,
                     handler=terminal, check=_check))
