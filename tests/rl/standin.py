"""A stand-in token-in/token-out inference server for the rl tests, on loopback.

It speaks SGLang's native `POST /generate` and vLLM's `POST /v1/completions` (prompt as token ids,
`return_token_ids`). The "model" is a Python function from the decoded prompt text to reply text;
replies are encoded NON-canonically (one token per character, so decode(ids) == text but
encode(text) != ids) plus the end-of-turn id, with a made-up logprob per token.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def noncanonical_ids(tokenizer: Any, text: str) -> list[int]:
    """One id per character: valid ids spelling `text`, never the merges encode() would pick."""
    ids: list[int] = []
    for ch in text:
        ids.extend(tokenizer.encode(ch))
    return ids


def fake_logprob(position: int, token: int) -> float:
    return -round(0.001 * (position + 1) + (token % 17) / 100, 6)


class StandIn:
    """`model(prompt_text) -> reply text` behind /generate and /v1/completions."""

    def __init__(self, tokenizer: Any, model: Callable[[str], str], *, canonical: bool = False,
                 max_tokens_cut: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.canonical = canonical
        self.requests: list[dict[str, Any]] = []  # {"path", "prompt_ids", "sampling", "output_ids", "logprobs"}
        self.eos = tokenizer.backend.token_to_id("<|im_end|>") if tokenizer.backend else tokenizer.hf.eos_token_id
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandIn:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sample(self, prompt_ids: list[int], max_tokens: int | None) -> tuple[list[int], list[float], str]:
        text = self.model(self.tokenizer.decode(prompt_ids))
        body = self.tokenizer.encode(text) if self.canonical else noncanonical_ids(self.tokenizer, text)
        ids, finish = body + [self.eos], "stop"
        if max_tokens is not None and len(ids) > max_tokens:
            ids, finish = ids[:max_tokens], "length"
        return ids, [fake_logprob(i, t) for i, t in enumerate(ids)], finish

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/generate":
                    prompt, sampling = body["input_ids"], body.get("sampling_params") or {}
                    ids, lps, finish = standin.sample(prompt, sampling.get("max_new_tokens"))
                    out = {"text": standin.tokenizer.decode(ids), "output_ids": ids,
                           "meta_info": {"output_token_logprobs": [[lp, i, None] for lp, i in zip(lps, ids, strict=True)],
                                         "finish_reason": {"type": finish}}}
                elif self.path == "/v1/completions":
                    prompt, sampling = body["prompt"], {k: v for k, v in body.items() if k != "prompt"}
                    assert body.get("return_token_ids") is True
                    ids, lps, finish = standin.sample(prompt, body.get("max_tokens"))
                    out = {"object": "text_completion", "prompt_token_ids": prompt, "choices": [{
                        "index": 0, "text": standin.tokenizer.decode(ids), "token_ids": ids,
                        "logprobs": {"token_logprobs": lps, "tokens": [f"token_id:{i}" for i in ids]},
                        "finish_reason": finish}]}
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with standin._lock:
                    standin.requests.append({"path": self.path, "prompt_ids": list(prompt), "sampling": sampling,
                                             "output_ids": ids, "logprobs": lps})
                data = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def tool_then_answer(prompt: str) -> str:
    """Turn 1: write the answer with the terminal; turn 2: read the tool result and answer."""
    if "Summarise this part of the conversation" in prompt:
        return "The user asked for 6*7; the agent computed it."
    if "<tool_response>" not in prompt:
        word = re.findall(r"user\nWrite (\w+)", prompt)
        value = word[-1] if word else "$((6*7))"
        return ('<tool_call>\n{"name": "terminal", "arguments": {"command": "echo ' + value
                + ' > answer.txt && cat answer.txt"}}\n</tool_call>')
    output = re.findall(r'"output": "([^"\\]*)', prompt)
    return f"The answer is {output[-1] if output else '?'}."


# A researcher's Atropos environment as a file (tests write it next to the run): the rollout writes
# 6*7 to answer.txt; the score reads it back in the rollout's own sandbox.
SIX_TIMES_SEVEN_ENV = '''
from rl.atropos import HermesEnv


class SixTimesSeven(HermesEnv):
    name = "six_times_seven"

    async def get_item(self):
        return {"prompt": "What is 6*7? Use the terminal."}

    async def score(self, item, ctx):
        out = await ctx.aexec("cat answer.txt")
        return 1.0 if out.output.strip() == "42" else 0.0
'''
