"""Lifecycle hooks: the user's commands run at SessionStart, UserPromptSubmit, PreToolUse, PostToolUse,
Stop and PreCompact, with Claude Code's contract:

- the hook gets one JSON object on stdin: session_id, transcript_path, cwd, hook_event_name, plus
  tool_name / tool_input / tool_use_id (tool events), tool_response (PostToolUse), prompt
  (UserPromptSubmit), source (SessionStart), trigger (PreCompact), final_response (Stop);
- exit 0 continues; stdout adds context for UserPromptSubmit and SessionStart (plain text, or JSON
  with hookSpecificOutput.additionalContext);
- exit 2 blocks: PreToolUse -> the call does not run and stderr is the tool result; PostToolUse ->
  stderr is added to the tool result; UserPromptSubmit -> the prompt is rejected and stderr shown to
  the user; Stop -> the model is told stderr and goes on;
- JSON on stdout may also say {"decision": "block", "reason": ...} (same as exit 2);
- any other exit code, a timeout or a hook that cannot start is reported and does not block.

Matching hooks run one after another in config order; the first block wins. Each run that blocked,
added context or failed is a `hook` event in the session log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import Interrupted

if TYPE_CHECKING:  # the config module (regexes, difflib) is only needed when hooks are configured
    from agent.hooks_config import HookCommand, HookGroup

BLOCK_EXIT = 2
MAX_CAPTURE = 20_000  # characters of a hook's stdout/stderr kept


class HookBlocked(Exception):
    """A UserPromptSubmit hook rejected the prompt; the message is the hook's stderr."""


@dataclass
class HookRun:
    event: str
    command: str
    exit_code: int | None  # None: timed out or could not start
    stdout: str
    stderr: str
    blocked: bool = False
    context: str | None = None
    error: str | None = None

    @property
    def reason(self) -> str:
        return self.stderr.strip() or self.stdout.strip() or f"blocked by hook `{self.command}`"


class HookRunner:
    def __init__(self, hooks: dict[str, list[HookGroup]], cwd: Path | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self.hooks = hooks
        self.cwd = cwd or Path.cwd()
        self.environ = dict(environ or {})  # the hooks' environment: the settings loader's (with .env)
        self._started: set[str] = set()  # session ids whose SessionStart ran

    def __bool__(self) -> bool:
        return any(self.hooks.values())

    def listing(self) -> list[tuple[str, str, str, float]]:
        """(event, matcher, command, timeout) rows for /hooks."""
        from agent.hooks_config import EVENTS

        return [(event, group.matcher or "*", hook.command, hook.timeout)
                for event in EVENTS for group in self.hooks.get(event, []) for hook in group.hooks]

    # -- running ---------------------------------------------------------------------------------
    def run(self, event: str, payload: dict[str, Any], subject: str | None = None,
            interrupt: threading.Event | None = None) -> list[HookRun]:
        """Run the hooks of `event` whose matcher fits `subject`; stop at the first that blocks."""
        runs: list[HookRun] = []
        for group in self.hooks.get(event, []):
            if not group.matches(subject):
                continue
            for hook in group.hooks:
                run = self._run_one(event, hook, payload, interrupt)
                runs.append(run)
                if run.blocked:
                    return runs
        return runs

    def _run_one(self, event: str, hook: HookCommand, payload: dict[str, Any],
                 interrupt: threading.Event | None = None) -> HookRun:
        env = {**self.environ, "HERMES_PROJECT_DIR": str(self.cwd), "HERMES_HOOK_EVENT": event,
               "HERMES_SESSION_ID": str(payload.get("session_id") or "")}
        try:
            proc = subprocess.Popen(["bash", "-c", hook.command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=self.cwd, env=env, start_new_session=True)
        except OSError as exc:
            return HookRun(event, hook.command, None, "", "", error=f"could not start: {exc}")
        data: bytes | None = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        deadline = time.monotonic() + hook.timeout
        try:
            while True:  # in slices, so an interrupt (Ctrl-C in another thread) stops the hook too
                try:
                    out, err = proc.communicate(data, timeout=max(min(0.2, deadline - time.monotonic()), 0.01))
                    break
                except subprocess.TimeoutExpired:
                    data = None  # sent with the first call; communicate() keeps what was read so far
                    if interrupt is not None and interrupt.is_set():
                        raise Interrupted("interrupted while a hook ran") from None
                    if time.monotonic() >= deadline:
                        _kill_group(proc)
                        out, err = proc.communicate()
                        return HookRun(event, hook.command, None, _text(out), _text(err),
                                       error=f"timed out after {hook.timeout:g}s")
        except BaseException:  # Ctrl-C / SIGTERM / interrupt: the hook must not outlive us
            _kill_group(proc)
            raise
        run = HookRun(event, hook.command, proc.returncode, _text(out), _text(err))
        if proc.returncode == BLOCK_EXIT:
            run.blocked = True
        elif proc.returncode != 0:
            run.error = f"exited {proc.returncode}" + (f": {run.stderr.strip().splitlines()[-1]}" if run.stderr.strip() else "")
        else:
            self._read_stdout(run)
        return run

    @staticmethod
    def _read_stdout(run: HookRun) -> None:
        text = run.stdout.strip()
        data = None
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None
        if not isinstance(data, dict):
            if text and run.event in ("UserPromptSubmit", "SessionStart"):
                run.context = text
            return
        specific = data.get("hookSpecificOutput") if isinstance(data.get("hookSpecificOutput"), dict) else {}
        reason = data.get("reason") or data.get("stopReason") or specific.get("permissionDecisionReason")
        if data.get("decision") in ("block", "deny") or data.get("continue") is False \
                or specific.get("permissionDecision") == "deny":
            run.blocked = True
            run.stderr = str(reason or run.stderr or "blocked by a hook")
        if context := specific.get("additionalContext"):
            run.context = str(context)

    # -- the agent's call sites ------------------------------------------------------------------
    def _payload(self, agent: Any, event: str, **fields: Any) -> dict[str, Any]:
        paths = agent.session_paths
        return {"session_id": agent.session_id, "transcript_path": str(paths[0]) if paths else None,
                "cwd": str(self.cwd), "hook_event_name": event, "model": agent.model, **fields}

    def _fire(self, agent: Any, event: str, subject: str | None = None, **fields: Any) -> list[HookRun]:
        if not self.hooks.get(event):
            return []
        runs = self.run(event, self._payload(agent, event, **fields), subject, getattr(agent, "interrupt_event", None))
        for run in runs:
            _record(agent, run, subject)
            if run.error:
                _report(agent, f"hook {event} `{run.command}` {run.error} (not blocking)")
        return runs

    def before_prompt(self, agent: Any, prompt: str) -> str:
        """SessionStart (once per session) and UserPromptSubmit; the prompt with any added context.

        Raises HookBlocked when a UserPromptSubmit hook rejects the prompt.
        """
        contexts = []
        if agent.session_id not in self._started:
            self._started.add(agent.session_id)
            source = "resume" if agent.messages else "startup"
            runs = self._fire(agent, "SessionStart", source, source=source)
            contexts += [r.context for r in runs if r.context]
            for run in runs:
                if run.blocked:  # SessionStart cannot block: show it, go on
                    _report(agent, f"hook SessionStart: {run.reason}")
        runs = self._fire(agent, "UserPromptSubmit", None, prompt=prompt)
        for run in runs:
            if run.blocked:
                raise HookBlocked(run.reason)
        contexts += [r.context for r in runs if r.context]
        if not contexts:
            return prompt
        return prompt + "".join(f"\n\n<hook-context>\n{c}\n</hook-context>" for c in contexts)

    def pre_tool(self, agent: Any, call_id: str, name: str, args: Any) -> str | None:
        """None to run the call; else the hook's reason, which becomes the tool's error result."""
        for run in self._fire(agent, "PreToolUse", name, tool_name=name, tool_input=args, tool_use_id=call_id):
            if run.blocked:
                return run.reason
        return None

    def post_tool(self, agent: Any, call_id: str, name: str, args: Any, result: str) -> str:
        """The result, with a blocking PostToolUse hook's message added for the model."""
        for run in self._fire(agent, "PostToolUse", name, tool_name=name, tool_input=args, tool_use_id=call_id,
                              tool_response=result):
            if run.blocked:
                return _with_feedback(result, run.reason)
        return result

    def on_stop(self, agent: Any, final: str | None, active: bool) -> str | None:
        """A message for the model when a Stop hook says it must go on, else None."""
        for run in self._fire(agent, "Stop", None, final_response=final, stop_hook_active=active):
            if run.blocked:
                return run.reason
        return None

    def pre_compact(self, agent: Any, trigger: str) -> None:
        self._fire(agent, "PreCompact", trigger, trigger=trigger)


def tool_blocked_result(reason: str) -> str:
    return json.dumps({"error": f"blocked by a PreToolUse hook: {reason}"}, ensure_ascii=False)


def _with_feedback(result: str, feedback: str) -> str:
    try:
        data = json.loads(result)
    except (json.JSONDecodeError, TypeError):
        data = None
    if isinstance(data, dict):
        data["hook_feedback"] = feedback
        return json.dumps(data, ensure_ascii=False)
    return f"{result}\n\n[PostToolUse hook]: {feedback}"


def _record(agent: Any, run: HookRun, subject: str | None) -> None:
    if not (run.blocked or run.context or run.error):
        return
    recorder = getattr(agent, "_recorder", None)
    if recorder is None:
        return
    outcome = "blocked" if run.blocked else "error" if run.error else "context"
    recorder.record_event("hook", hook_event=run.event, command=run.command, subject=subject, outcome=outcome,
                          exit_code=run.exit_code, message=run.reason if run.blocked else run.error,
                          context=run.context)


def _report(agent: Any, text: str) -> None:
    """Tell the user: in the REPL as a notice, elsewhere one line on stderr."""
    if getattr(agent, "_mode", None) == "repl":
        from agent.events import Notice

        agent.on_event(Notice(text))
    else:
        sys.stderr.write(f"hermes: {text}\n")
        sys.stderr.flush()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")[:MAX_CAPTURE]
