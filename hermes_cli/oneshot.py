"""One-shot runs (`-p`, `-q`, stdin): run one prompt, print the answer, exit 0/1.

Output formats:
  text         only the final answer on stdout; retries and failures as one line each on stderr
  json         one JSON object: answer, session id, usage, status, exit code
  stream-json  one JSON event per line: start, text, reasoning, tool_start, tool_end, retry, result
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any, TextIO

from agent.events import (
    Event,
    Notice,
    Retrying,
    StreamReset,
    TextDelta,
    ToolEnd,
    ToolStart,
    Warn,
    event_to_dict,
)
from hermes_cli import todo_view
from hermes_cli.agent_factory import load_images, load_settings, make_agent, resolve_resume

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class TextOutput:
    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.out, self.err = out, err

    def start(self, info: dict[str, Any]) -> None:
        pass

    def event(self, event: Event) -> None:
        if isinstance(event, Retrying):
            self.err.write(f"hermes: {event.error}; retrying in {event.delay:.1f}s "
                           f"(attempt {event.attempt + 1}/{event.max_attempts})\n")
            self.err.flush()
        elif isinstance(event, Warn):
            self.err.write(f"hermes: warning: {event.text}\n")
            self.err.flush()

    def finish(self, result: dict[str, Any]) -> None:
        if result["exit_code"] == EXIT_OK:
            answer = result["answer"] or ""
            self.out.write(answer if answer.endswith("\n") else answer + "\n")
            self.out.flush()
        elif result["error"]:
            self.err.write(f"hermes: error: {result['error']}\n")


class JsonOutput(TextOutput):
    def event(self, event: Event) -> None:
        if isinstance(event, Warn):
            super().event(event)

    def finish(self, result: dict[str, Any]) -> None:
        self.out.write(json.dumps(result, ensure_ascii=False) + "\n")
        self.out.flush()


class StreamJsonOutput(TextOutput):
    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        super().__init__(out, err)
        self._lock = threading.Lock()  # tool events arrive from worker threads

    def _line(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.out.write(json.dumps(payload, ensure_ascii=False) + "\n")
            self.out.flush()

    def start(self, info: dict[str, Any]) -> None:
        self._line({"type": "start", **info})

    def event(self, event: Event) -> None:
        payload = event_to_dict(event)
        if isinstance(event, ToolEnd):
            payload["duration_ms"] = round(payload.pop("duration") * 1000, 1)
        if isinstance(event, Retrying):
            payload["attempt"] = event.attempt + 1  # the attempt about to start, numbered as on stderr
        # every line starts with its type, then the event's fields in their declared order
        self._line({"type": payload.pop("type"), **payload})
        if isinstance(event, ToolEnd) and (todos := todo_view.todos_of(event.name, event.result)) is not None:
            self._line(todo_view.event(todos))  # the model's task list after each update

    def finish(self, result: dict[str, Any]) -> None:
        self._line(result)


class ProgressOutput(TextOutput):
    """`-q`: the interactive look in plain text: banner, streamed answer, one line per tool call."""

    def start(self, info: dict[str, Any]) -> None:
        self.err.write(f"⚕ hermes · {info['model']} @ {info['endpoint']} · session {info['session_id']}\n")
        if info.get("safety"):
            self.err.write(f"  {info['safety']}\n")
        if "resumed_messages" in info:
            self.err.write(f"  resumed with {info['resumed_messages']} earlier messages\n")
        if info.get("images"):
            self.err.write(f"  with {len(info['images'])} image(s): {', '.join(info['images'])}\n")
        self._streaming = False
        self._arguments: dict[str, dict[str, Any]] = {}  # call id -> arguments, until the call ends

    def event(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.out.write(event.text)
            self.out.flush()
            self._streaming = True
        elif isinstance(event, StreamReset) and self._streaming:
            self.out.write("\n")
        elif isinstance(event, ToolStart):
            self._end_stream()
            self._arguments[event.call_id] = event.arguments
        elif isinstance(event, ToolEnd):
            from hermes_cli.repl.text import key_argument, truncate

            mark = "✓" if event.ok else "✗"
            # the key argument (the command, the path), clipped; RedactingWriter hides any secret in it
            arg = truncate(key_argument(event.name, self._arguments.pop(event.call_id, None)), 72)
            self.err.write(f"  {mark} {event.name}{'  ' + arg if arg else ''} ({event.duration:.2f}s)\n")
            if (todos := todo_view.todos_of(event.name, event.result)) is not None:
                self.err.write(f"    {todo_view.compact(todos)}\n")
        elif isinstance(event, (Notice, Retrying, Warn)):
            self._end_stream()
            text = event.text if isinstance(event, (Notice, Warn)) else f"retrying in {event.delay:.1f}s: {event.error}"
            self.err.write(f"  ! {text}\n")
        self.err.flush()

    def _end_stream(self) -> None:
        if getattr(self, "_streaming", False):
            self.out.write("\n")
            self.out.flush()
            self._streaming = False

    def finish(self, result: dict[str, Any]) -> None:
        if self._streaming:
            self._end_stream()
        elif result["exit_code"] == EXIT_OK and result["answer"]:
            self.out.write(result["answer"] + "\n")
        if result["error"]:
            self.err.write(f"hermes: error: {result['error']}\n")
        if log := result.get("session_log"):
            self.err.write(f"session log: {log}\n")


OUTPUTS = {"text": TextOutput, "json": JsonOutput, "stream-json": StreamJsonOutput}


def run_oneshot(args: argparse.Namespace, prompt: str, interactive_look: bool = False) -> int:
    output = ProgressOutput() if interactive_look else OUTPUTS[args.output_format]()
    settings = load_settings(args)
    images = load_images(getattr(args, "image", None) or [])  # bad ones: exit 2 now
    for warning in settings.warnings:
        sys.stderr.write(f"hermes: warning: {warning}\n")
    # --resume/--continue: continue that conversation, append to its logs
    resume = resolve_resume(args, settings.log_dir)
    early: list[Event] = []  # warnings while the agent is made (context files cut) come after "start"
    agent = make_agent(settings, mode="oneshot", on_event=early.append, resume=resume,
                       ephemeral_system_prompt=args.ephemeral_system_prompt)
    # Everything printed goes through redaction: an endpoint error echoing the key (a 401 body),
    # a secret in the answer or in a tool event never reaches the terminal or the JSON output.
    from recording.redact import RedactingWriter, Redactor

    redact = Redactor([agent.endpoint.api_key])
    output.out, output.err = RedactingWriter(output.out, redact), RedactingWriter(output.err, redact)
    started = time.perf_counter()
    info = {"session_id": agent.session_id, "model": agent.model, "endpoint": agent.endpoint.host,
            "tools": sorted(agent.tool_names)}
    if resume is not None:
        info["resumed_messages"] = len(agent.messages)
    if images:
        info["images"] = [str(image.path) for image in images]
    if interactive_look:
        from hermes_cli.agent_factory import safety_line

        info["safety"] = safety_line(agent)
    output.start(info)
    agent.on_event = output.event
    for event in early:
        output.event(event)
    from agent.mentions import expand_for

    prompt = expand_for(settings, prompt, lambda line: output.event(Warn(line)))  # @path attaches the file
    def terminate(signum: int, frame: object) -> None:
        agent.interrupt()  # kills running tool processes; the finally below records and cleans up
        raise SystemExit(128 + signum)

    # SIGHUP is a closed terminal or a dropped SSH session: clean up exactly as for SIGTERM.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)
    try:
        # Ctrl-C comes back as status "interrupted"; a resumed agent's history is the session's so far.
        run = agent.run_conversation(prompt, conversation_history=agent.messages, images=images)
    finally:
        agent.close()
    exit_code = {"success": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(run["status"], EXIT_FAILED)
    paths = agent.session_paths
    output.finish({
        "type": "result",
        "status": run["status"],
        "exit_code": exit_code,
        "answer": run["final_response"],
        "error": run["error"],
        "session_id": agent.session_id,
        "model": agent.model,
        "usage": run["usage"],
        "api_calls": run["api_calls"],
        "turns": run["turns"],
        "duration_ms": round((time.perf_counter() - started) * 1000),
        "session_log": str(paths[0]) if paths else None,
    })
    return exit_code
