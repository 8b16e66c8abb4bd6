"""The bridge between toolsets and the model: which schemas it sees, and how its calls are run.

    get_tool_definitions(enabled, disabled)   -> OpenAI tool schemas for available tools
    handle_function_call(name, args, task_id) -> JSON string (never raises)
    tool_availability()                       -> every known tool with the reason it is unavailable
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import toolsets
from tools.registry import REGISTRY, Tool, ToolContext, tool_error

# Importing a module registers its tools. Heavy SDKs are imported inside handlers, not here.
TOOL_MODULES = ("tools.terminal_tool", "tools.process_tool", "tools.file_tools", "tools.web_tools", "tools.browser_tool", "tools.skills_tool", "tools.todo_tool")

_loaded = False


def load_tools() -> dict[str, Tool]:
    global _loaded
    if not _loaded:
        for module in TOOL_MODULES:
            importlib.import_module(module)
        _loaded = True
    return REGISTRY


@dataclass(frozen=True)
class ToolStatus:
    name: str
    toolset: str
    available: bool
    reason: str | None


def _toolset_of(tool_name: str) -> str:
    for name, definition in toolsets.TOOLSETS.items():
        if tool_name in definition["tools"]:
            return name
    return "?"


def tool_availability() -> list[ToolStatus]:
    """Every tool named by a toolset or registered, with why it cannot run here (if it cannot)."""
    registry = load_tools()
    names = list(dict.fromkeys(toolsets.resolve_toolset("all") + list(registry)))
    statuses = []
    for name in names:
        tool = registry.get(name)
        if tool is None:
            statuses.append(ToolStatus(name, _toolset_of(name), False, "not implemented in this version"))
            continue
        reason = tool.unavailable_reason()
        statuses.append(ToolStatus(name, tool.toolset, reason is None, reason))
    return statuses


def resolve_tool_names(enabled: list[str] | None = None, disabled: list[str] | None = None) -> list[str]:
    """Names of tools in the enabled toolsets minus the disabled ones (no availability filter)."""
    wanted = toolsets.resolve_multiple_toolsets(enabled or ["all"])
    if disabled:
        dropped = set(toolsets.resolve_multiple_toolsets(disabled))
        wanted = [name for name in wanted if name not in dropped]
    return wanted


def get_tool_definitions(
    enabled_toolsets: list[str] | None = None, disabled_toolsets: list[str] | None = None
) -> list[dict[str, Any]]:
    """OpenAI tool schemas the model should see. Unknown toolset names raise UnknownToolsetError."""
    registry = load_tools()
    definitions = []
    for name in resolve_tool_names(enabled_toolsets, disabled_toolsets):
        tool = registry.get(name)
        if tool is not None and tool.unavailable_reason() is None:
            definitions.append(tool.schema())
    return definitions


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _coerce(value: Any, expected: str) -> Any:
    """Models often send "5" for 5 or "true" for true; accept those instead of failing the call."""
    if isinstance(value, str):
        text = value.strip()
        if expected == "integer" and text.lstrip("-").isdigit():
            return int(text)
        if expected == "number":
            try:
                return float(text)
            except ValueError:
                return value
        if expected == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    if expected == "number" and isinstance(value, bool):
        return value
    return value


def validate_arguments(tool: Tool, args: dict[str, Any]) -> str | None:
    """Check required fields and basic types in place (coercing the obvious); return an error or None."""
    schema = tool.parameters
    properties = schema.get("properties", {})
    missing = [key for key in schema.get("required", []) if args.get(key) is None]
    if missing:
        return f"missing required argument(s) for {tool.name}: {', '.join(missing)}"
    for key, value in list(args.items()):
        spec = properties.get(key)
        if spec is None or value is None or "type" not in spec:
            continue
        expected = spec["type"]
        value = args[key] = _coerce(value, expected)
        allowed = _JSON_TYPES.get(expected)
        if allowed and (not isinstance(value, allowed) or (expected != "boolean" and isinstance(value, bool))):
            return f"argument '{key}' of {tool.name} must be {expected}, got {type(value).__name__}"
    return None


def parse_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments arrive as a JSON string from the API; return (dict, None) or (None, error)."""
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return None, f"arguments must be a JSON object, got {type(raw).__name__}"
    try:
        parsed = json.loads(raw, parse_float=_finite_float, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc.msg} at position {exc.pos}); resend the call with a JSON object"
    except RecursionError:
        return None, f"arguments are nested too deeply (limit {MAX_ARGUMENT_DEPTH} levels); send a flatter object"
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        reason = str(exc).split(":")[0]
        return None, f"arguments could not be read ({reason}); send big numbers as strings"
    if not isinstance(parsed, dict):
        return None, f"arguments must be a JSON object, got {type(parsed).__name__}"
    if _too_deep(parsed):
        return None, f"arguments are nested too deeply (limit {MAX_ARGUMENT_DEPTH} levels); send a flatter object"
    return parsed, None


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


MAX_ARGUMENT_DEPTH = 100  # deeper objects would hit Python's recursion limit when echoed or logged


def _too_deep(value: Any) -> bool:
    """True when containers nest past MAX_ARGUMENT_DEPTH (iterative: no recursion to overflow)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def handle_function_call(
    function_name: str,
    function_args: str | dict[str, Any] | None,
    task_id: str | None = None,
    ctx: ToolContext | None = None,
    allowed: set[str] | None = None,
) -> str:
    """Run one tool call and return its JSON result. Bad names and arguments become errors, not raises."""
    registry = load_tools()
    tool = registry.get(function_name)
    if tool is None or (allowed is not None and function_name not in allowed):
        names = sorted(allowed if allowed is not None else registry)
        shown = function_name if len(str(function_name)) <= 80 else f"{str(function_name)[:80]}…"
        return tool_error(f"unknown tool '{shown}'. Available tools: {', '.join(names)}")
    args, error = parse_arguments(function_args)
    if error:
        return tool_error(error)
    assert args is not None
    error = validate_arguments(tool, args)
    if error:
        return tool_error(error)
    if ctx is None:
        ctx = ToolContext(task_id=task_id or "default")
    elif task_id:
        ctx.task_id = task_id
    if tool.read_only is False:
        from tools import gate

        if refusal := gate.check(gate.ToolCall(function_name, read_only=False), ctx,
                                 subject=f"{function_name} {json.dumps(args, ensure_ascii=False)[:200]}"):
            return tool_error(refusal)
    try:
        return tool.handler(args, ctx)
    except Exception as exc:  # a tool bug must come back to the model, not kill the session
        return tool_error(f"{function_name} failed: {type(exc).__name__}: {exc}")


def is_quick(function_name: str, ctx: ToolContext) -> bool:
    """Whether a call of this tool is quick here (`Tool.quick` and the task's files on this machine):
    the asyncio batch driver may then run it on its loop thread."""
    from tools.environments.files import files_are_local

    tool = load_tools().get(function_name)
    return tool is not None and tool.quick and files_are_local(ctx.task_id, ctx.terminal)


def cleanup_is_quick(task_id: str) -> bool:
    """Whether `cleanup_vm(task_id)` has nothing to stop: no environment, command or browser page."""
    from tools.environments.manager import background_processes, peek_environment

    browser = sys.modules.get("tools.browser_session")
    return (peek_environment(task_id) is None and not background_processes(task_id)
            and (browser is None or not browser.has_session(task_id)))


def cleanup_vm(task_id: str) -> None:
    """Release the terminal environment and the browser context of one task (seed-compatible name)."""
    from tools.environments.manager import cleanup_environment

    cleanup_environment(task_id)
    browser = sys.modules.get("tools.browser_session")  # a no-op unless a browser was started
    if browser is not None:
        browser.close_session(task_id)
