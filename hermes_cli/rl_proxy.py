"""`hermes rl proxy --backend sglang|vllm URL --tokenizer DIR`: rl.TokenProxy as a standalone server.

Any OpenAI-compatible client (hermes itself, another harness) points at `http://HOST:PORT/r/<id>/v1`
(or the plain `/v1` with the rollout named by an `X-Rollout-Id` header or the API key); a rollout
is tracked from its first request. On Ctrl-C / SIGTERM every rollout's token sequences (tokens,
0/1 mask, logprobs, prompt_len) and calls are written to `--output`, one JSON object per rollout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from agent.errors import ConfigError

USAGE_EXIT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_EXIT, f"hermes rl proxy: error: {message} (see hermes rl proxy --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hermes rl proxy", allow_abbrev=False,
                description="A token-tracking OpenAI-compatible server over a token-in/token-out backend: "
                            "renders the chat template once, extends prompts without re-tokenizing what was "
                            "sampled, records tokens, masks and logprobs per rollout.")
    p.add_argument("url", metavar="URL", help="the backend's root URL (not /v1), e.g. http://127.0.0.1:30000")
    p.add_argument("--backend", choices=["sglang", "vllm"], required=True,
                   help="sglang: POST /generate with input_ids; vllm: POST /v1/completions with token-id "
                        "prompts and return_token_ids")
    p.add_argument("--tokenizer", required=True, help="the policy's tokenizer (directory or Hugging Face name)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100; 0 = any free one)")
    p.add_argument("--model", default="policy", help="model name the backend serves (vllm) and the proxy "
                   "answers with (default policy)")
    p.add_argument("--tool-calls", choices=["structured", "text"], default="structured",
                   help="parse <tool_call> text into OpenAI tool_calls (default) or hand the raw text back")
    p.add_argument("--output", "-o", type=Path, default=Path("rollouts.jsonl"),
                   help="where the rollouts go when the proxy stops (default rollouts.jsonl)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from rl.backends import sglang_generate, vllm_completions_generate
    from rl.proxy import TokenProxy
    from rl.tracker import load_chat_tokenizer

    class AutoOpenProxy(TokenProxy):
        """Tracks a rollout from its first request: clients need no API of ours to open one."""

        def complete(self, rollout_id: str, body: dict[str, Any]) -> Any:
            if rollout_id:
                with self._lock:
                    known = rollout_id in self._tracks
                if not known:
                    try:
                        self.open(rollout_id)
                    except ValueError:  # opened by a concurrent first request
                        pass
            return super().complete(rollout_id, body)

    tokenizer = load_chat_tokenizer(args.tokenizer)
    generate = (sglang_generate(args.url) if args.backend == "sglang"
                else vllm_completions_generate(args.url, args.model))
    proxy = AutoOpenProxy(tokenizer, generate, tool_calls=args.tool_calls, model=args.model,
                          host=args.host, port=args.port)
    try:
        proxy.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    base = proxy.url.removesuffix("/v1")
    print(f"hermes rl proxy: {base}/r/<rollout-id>/v1 ({args.backend} at {args.url}); "
          f"Ctrl-C writes the rollouts to {args.output}", flush=True)
    stop.wait()
    proxy.close()
    count = write_rollouts(proxy, args.output)
    print(f"hermes rl proxy: {count} rollout(s) written to {args.output}", file=sys.stderr)
    return 0


def write_rollouts(proxy: Any, path: Path) -> int:
    with proxy._lock:
        ids = list(proxy._tracks)
    with path.open("w", encoding="utf-8") as out:
        for rollout_id in ids:
            sequences, calls = proxy.take(rollout_id)
            record = {"rollout_id": rollout_id,
                      "sequences": [{k: v for k, v in dataclasses.asdict(s).items() if k != "text"} for s in sequences],
                      "calls": [dataclasses.asdict(c) for c in calls]}
            out.write(json.dumps(record) + "\n")
    return len(ids)
