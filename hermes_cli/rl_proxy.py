"""`hermes rl proxy --backend sglang|vllm URL --tokenizer DIR`: rl.TokenProxy as a standalone server.

Any OpenAI-compatible client (hermes itself, another harness) points at `http://HOST:PORT/r/<id>/v1`
(or the plain `/v1` with the rollout named by an `X-Rollout-Id` header or the API key); a rollout
is tracked from its first request. `POST /rollouts/<id>/finish` ends one: its token sequences
(tokens, 0/1 mask, logprobs, prompt_len) and calls come back and are appended to `--output` at once;
`GET /rollouts/<id>` reads one while it runs (rl/served.py). On Ctrl-C / SIGTERM the rollouts still
open are appended too, one JSON object per rollout.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

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
                   help="JSONL of the rollouts, one line each: written when a rollout is finished (POST "
                        "/rollouts/<id>/finish) and, for those still open, when the proxy stops (default "
                        "rollouts.jsonl; replaced at start)")
    p.add_argument("--keep", type=int, default=1024, metavar="N",
                   help="finished rollouts held for GET /rollouts/<id> (default 1024; all are in --output)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from rl.backends import sglang_generate, vllm_completions_generate
    from rl.served import ServedProxy
    from rl.tracker import load_chat_tokenizer

    if args.keep < 0:
        raise ConfigError(f"--keep {args.keep}: must be 0 or more")
    tokenizer = load_chat_tokenizer(args.tokenizer)
    generate = (sglang_generate(args.url) if args.backend == "sglang"
                else vllm_completions_generate(args.url, args.model))
    proxy = ServedProxy(tokenizer, generate, tool_calls=args.tool_calls, model=args.model, host=args.host,
                        port=args.port, output=args.output, keep=args.keep)
    try:
        proxy.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    try:
        proxy.open_output()
    except OSError as exc:
        proxy.close()
        raise ConfigError(f"cannot write --output {args.output}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    base = proxy.url.removesuffix("/v1")
    print(f"hermes rl proxy: {base}/r/<rollout-id>/v1 ({args.backend} at {args.url}); "
          f"POST {base}/rollouts/<rollout-id>/finish writes one to {args.output}, Ctrl-C the rest", flush=True)
    stop.wait()
    proxy.close()
    count = proxy.write_open()
    print(f"hermes rl proxy: {count} rollout(s) written to {args.output}", file=sys.stderr)
    return 0
