"""``python -m scripted_server``: serve a script (or echo the user) until interrupted."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path

from .replies import Reply, ToolCall
from .server import ScriptedLLM


def last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # multi-part content: keep the text parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripted_server", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--script", type=Path, help="JSON list of reply objects (Reply field names)")
    parser.add_argument(
        "--echo", action="store_true", help="answer with the last user message (after the script, if any)"
    )
    parser.add_argument("--model", action="append", dest="models", help="model id to list (repeatable)")
    parser.add_argument("--tool-turns", type=int, metavar="N",
                        help="every conversation: N terminal calls running `true`, then an answer (benchmarks)")
    parser.add_argument("--tool-call", default='terminal {"command": "true"}', metavar="'NAME JSON'",
                        help="with --tool-turns: the call each turn makes (default: terminal running `true`)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S",
                        help="wait S seconds before every reply (a slow endpoint, for benchmarks)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse malformed histories with OpenAI's HTTP 400s (see scripted_server/strict.py)")
    parser.add_argument("--asyncio", action="store_true",
                        help="serve from one event loop (scripted_server/aio.py): for load benchmarks with "
                             "hundreds of slow connections; plain replies only, no --strict")
    args = parser.parse_args(argv)

    replies = []
    if args.script:
        replies = [Reply.from_dict(r) for r in json.loads(args.script.read_text(encoding="utf-8"))]
    tool_name, _, tool_args = args.tool_call.partition(" ")
    echo = args.echo or not args.script  # with nothing to replay, echoing is the only useful behaviour

    def respond(body: dict, index: int) -> Reply:
        reply = _respond(body, index)
        if args.latency:
            reply = dataclasses.replace(reply, delay=args.latency)
        return reply

    def _respond(body: dict, index: int) -> Reply:
        if args.tool_turns is not None:  # keyed on the conversation, so any number can run at once
            done = sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")
            if done < args.tool_turns:
                return Reply(tool_calls=[ToolCall(tool_name, json.loads(tool_args))])
            return Reply(content="done")
        if index < len(replies):
            return replies[index]
        if echo:
            return Reply(content=last_user_text(body))
        return Reply(
            status=500,
            error_body={
                "error": {
                    "message": f"scripted server: script exhausted after {len(replies)} replies",
                    "type": "server_error",
                }
            },
        )

    if args.asyncio:
        from .aio import serve_forever

        serve_forever(respond, args.host, args.port, args.models)
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ScriptedLLM(respond, models=args.models, port=args.port, host=args.host, strict=args.strict) as llm:
        print(llm.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
