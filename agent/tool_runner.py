"""Running the model's tool calls: hooks, loop guard, dispatch and events, for one agent.

The dispatcher never raises for a tool's own failure (the error is the result the model reads);
what does propagate is Ctrl-C / SIGTERM, after the other parallel calls have been told to stop.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import model_tools
from agent import unicode_text
from agent.events import ToolEnd, ToolStart
from agent.hooks import tool_blocked_result
from agent.loop_guard import LoopGuard, result_failed
from agent.tool_calls import format_tool_responses, parse_text_tool_calls

INVALID_TEXT_CALLS = "The previous <tool_call> blocks were invalid. Please output valid JSON inside <tool_call>."
INVALID_CALLS = "The previous tool calls could not be read (see the errors above). Please resend them in valid form."
MAX_PARALLEL = 8


class ToolRunner:
    """Runs tool calls for `agent`, reading only its public surface (tools, hooks, events, context)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent  # the hooks' subject; its tool set and hooks may change between turns

    def schemas(self) -> dict[str, dict[str, Any]]:
        """Tool name -> JSON schema of its parameters, for reading tool calls written as text."""
        return {t["function"]["name"]: t["function"].get("parameters") or {} for t in self.agent.tools}

    def quick(self, calls: list[dict[str, Any]]) -> bool:
        """Whether `calls` may run on an event loop's own thread (agent/steps.py `Blocking.quick`):
        one call of a quick tool on this machine's files, with no hook or person to wait for."""
        agent = self.agent
        if len(calls) != 1 or agent.hooks or agent.tool_context.approve is not None:
            return False
        name = (calls[0].get("function") or {}).get("name")
        return isinstance(name, str) and model_tools.is_quick(name, agent.tool_context)

    def run_one(self, call_id: str, name: str, raw_args: Any, guard: LoopGuard) -> str:
        agent = self.agent
        args, parse_error = model_tools.parse_arguments(raw_args)
        agent.on_event(ToolStart(call_id, name, args or {}))
        started = time.perf_counter()
        blocked = agent.hooks.pre_tool(agent, call_id, name, args) if agent.hooks and parse_error is None else None
        if blocked is not None:
            result = tool_blocked_result(blocked)
        elif guard.should_refuse(name, args if args is not None else raw_args):  # invalid JSON repeats too
            result = guard.refusal_message(name)
        else:
            result = model_tools.handle_function_call(name, raw_args, ctx=agent.tool_context, allowed=agent.tool_names)
            if agent.hooks:
                result = agent.hooks.post_tool(agent, call_id, name, args, result)
        result = unicode_text.clean(result)  # file names and output that are not UTF-8 (surrogateescape'd)
        guard.record(name, args if args is not None else raw_args, result)
        agent.on_event(ToolEnd(call_id, name, result, time.perf_counter() - started, not result_failed(result)))
        return result

    def run_calls(self, calls: list[dict[str, Any]], guard: LoopGuard) -> list[dict[str, Any]]:
        """The tool messages for the API-structured `calls`, run in parallel when there are several."""
        jobs = [(c.get("id") or f"call_{uuid.uuid4().hex[:8]}", c["function"]["name"], c["function"].get("arguments"))
                for c in calls]
        if len(jobs) == 1:
            results = [self.run_one(*jobs[0], guard)]
        else:
            pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(jobs)))
            try:
                results = list(pool.map(lambda job: self.run_one(*job, guard), jobs))
            except BaseException:  # Ctrl-C / SIGTERM: stop the other calls' processes, do not wait them out
                self.agent.interrupt_event.set()
                raise
            finally:
                pool.shutdown(wait=True)
        return [{"role": "tool", "tool_call_id": job[0], "content": result} for job, result in zip(jobs, results, strict=True)]

    def run_text_calls(self, content: str, guard: LoopGuard) -> str | None:
        """Run tool calls written in `content` (agent/tool_calls.py); the user turn that carries
        their results, or None when there were none."""
        calls, errors = parse_text_tool_calls(content, self.schemas())
        if not calls and not errors:
            return None
        results = [(c.name, self.run_one(f"text_call_{i}", c.name, c.arguments, guard)) for i, c in enumerate(calls)]
        for error in errors:  # the same unreadable call over and over is a loop too
            result = json.dumps({"error": error})
            if guard.should_refuse("invalid_tool_call", error):
                result = guard.refusal_message("invalid_tool_call")
            guard.record("invalid_tool_call", error, result)
            results.append(("invalid_tool_call", result))
        text = format_tool_responses(results)
        if errors and not calls:
            text += "\n" + (INVALID_TEXT_CALLS if "<tool_call>" in content else INVALID_CALLS)
        return text
