"""`hermes replay SESSION`: re-run a recorded session's tool calls here and now (no model), show each
step's recorded and new output, and report the first divergence. Exit 0 when every step matched,
1 on a divergence, 2 for a bad session argument.

    hermes replay 20261121_143052          # id or unique prefix in the log directory
    hermes replay logs/session_X.jsonl --stop-at-divergence --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from agent.errors import ConfigError

USAGE_EXIT = 2
PREVIEW_CHARS = 300


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"hermes replay: error: {message} (see hermes replay --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hermes replay", allow_abbrev=False,
                description="Re-run a recorded session's tool calls against the current environment, "
                            "compare each result with the recording, and report the first divergence.")
    p.add_argument("session", help="session id (or unique prefix) in the log directory, or an event log path")
    p.add_argument("--stop-at-divergence", "-x", action="store_true", help="stop at the first step that differs")
    p.add_argument("--json", action="store_true", help="one JSON object per step, then a summary object")
    p.add_argument("--full", action="store_true", help=f"show whole outputs (default: first {PREVIEW_CHARS} chars)")
    p.add_argument("--cwd", type=Path, help="start the terminal here (default: the current directory)")
    p.add_argument("--yolo", action="store_true", help="run dangerous commands without asking (they are denied otherwise)")
    return p


def _session_path(arg: str) -> Path:
    from recording.paths import log_dir
    from recording.reader import find_session

    path = Path(arg).expanduser()
    if path.is_file():
        return path
    try:
        return find_session(log_dir(), arg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _preview(text: str | None, full: bool) -> str:
    if text is None:
        return "(no result in the log)"
    text = text if full or len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + f"… ({len(text)} chars)"
    return text.replace("\n", "\n            ")


def _args_text(arguments: object) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _print_step(out: TextIO, step, total: int, full: bool) -> None:
    call = step.call
    if step.skipped:
        out.write(f"[{call.step}/{total}] {call.name} {_args_text(call.arguments)}  -> SKIPPED: {call.skip}\n")
        return
    mark = "same" if step.matched else "DIFFERS"
    out.write(f"[{call.step}/{total}] {call.name} {_args_text(call.arguments)}  -> {mark}\n")
    out.write(f"  recorded: {_preview(call.recorded, full)}\n")
    out.write(f"  replayed: {'(same)' if step.matched else _preview(step.replayed, full)}\n")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from exports.replay import recorded_calls, replay
    from recording.reader import load_session

    try:
        path = _session_path(args.session)
    except ConfigError as exc:
        sys.stderr.write(f"hermes replay: error: {exc}\n")
        return USAGE_EXIT
    session = load_session(path)
    total = len(recorded_calls(session))
    from recording.redact import RedactingWriter, Redactor

    out = RedactingWriter(sys.stdout, Redactor())  # recorded text is redacted already; re-run output too
    if total == 0:
        out.write(f"session {session.session_id} has no tool calls to replay\n")
        return 0
    from agent.settings import load_settings

    settings = load_settings({"yolo": args.yolo})  # bad settings: one line each, exit 2
    if args.cwd is not None:
        if not args.cwd.is_dir():
            sys.stderr.write(f"hermes replay: error: --cwd {args.cwd} is not a directory\n")
            return USAGE_EXIT
        settings.set("terminal.cwd", str(args.cwd.resolve()), "flag --cwd")
    if any(call.name.startswith("mcp") for call in recorded_calls(session)):  # issue 17: MCP calls need
        from agent import extensions  # the configured servers

        extensions.connect_now(settings)
    if not args.json:
        out.write(f"replaying {total} tool call{'s' if total != 1 else ''} of session {session.session_id}\n")
    first = None
    matched = ran = 0
    skipped: list[int] = []
    for step in replay(session, approval_mode=settings.approvals.mode, terminal=settings.terminal):
        if step.skipped:
            skipped.append(step.call.step)
        else:
            ran += 1
            matched += step.matched
        if args.json:
            out.write(json.dumps({"step": step.call.step, "tool": step.call.name, "arguments": step.call.arguments,
                                  "recorded": step.call.recorded, "replayed": step.replayed,
                                  "matched": step.matched, "skipped": step.call.skip}, ensure_ascii=False) + "\n")
        else:
            _print_step(out, step, total, args.full)
        out.flush()
        if not step.matched and not step.skipped and first is None:
            first = step
            if args.stop_at_divergence:
                break
    if args.json:
        out.write(json.dumps({"session_id": session.session_id, "steps": total, "replayed": ran, "matched": matched,
                              "skipped": skipped, "first_divergence": first.call.step if first else None}) + "\n")
        return 0 if first is None else 1
    if skipped:
        out.write(f"skipped {len(skipped)} step{'s' if len(skipped) != 1 else ''} "
                  f"({', '.join(map(str, skipped))}): see the reasons above\n")
    if first is None:
        out.write(f"all {ran} steps matched the recording\n")
    else:
        out.write(f"first divergence at step {first.call.step}/{total} ({first.call.name} "
                  f"{_args_text(first.call.arguments)}); {matched} of {ran} replayed steps matched\n")
    return 0 if first is None else 1
