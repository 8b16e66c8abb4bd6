"""Run by the interpreter that has llama-cpp-python (the `llama` extra): builds a tiny random-weight
Llama GGUF from a tokenizer.json trained by the test (numpy + `gguf`, no torch), scores a token
sequence with llama.cpp itself (an independent check of the ids and logprobs a session recorded),
and serves the model token-in/token-out as SGLang's native `POST /generate` (what rl's TokenProxy
speaks: llama-cpp-python's own server takes prompts as text only and answers no token ids).

    python llama_gguf.py build TOKENIZER_JSON TEMPLATE_FILE OUT_GGUF CTX
    python llama_gguf.py score MODEL_GGUF CTX < {"tokens": [...], "positions": [...]}  -> [logprob, ...]
    python llama_gguf.py serve MODEL_GGUF CTX PORT      (prints "ready" when it listens on 127.0.0.1)

Tests drive these through tests/llama_live.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DIM, LAYERS, HEADS, FFN = 64, 2, 4, 128


def build(tokenizer_json: Path, template: str, out: Path, ctx: int) -> None:
    """A random Llama whose output layer only ever favours tokens that decode, alone, to text that
    encodes back to them (llama-cpp-python reports each sampled token as text, never as an id):
    every other row is zero, so their logits sit far below the favoured ones."""
    import gguf
    import numpy as np
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    tok = Tokenizer.from_file(str(tokenizer_json))
    vocab: dict[str, int] = dict(spec["model"]["vocab"])
    special = {t["content"]: t["id"] for t in spec["added_tokens"]}
    vocab.update(special)
    size = max(vocab.values()) + 1
    tokens = [""] * size
    for text, i in vocab.items():
        tokens[i] = text
    types = [gguf.TokenType.CONTROL if i in special.values() else gguf.TokenType.NORMAL for i in range(size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_context_length(ctx)
    writer.add_embedding_length(DIM)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(DIM // HEADS)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(special["<|endoftext|>"])
    writer.add_eos_token_id(special["<|im_end|>"])
    writer.add_add_bos_token(False)
    writer.add_chat_template(template)

    rng = np.random.default_rng(7)

    def weights(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    favoured = np.array([i not in special.values() and (piece := tok.decode([i])) != ""
                         and tok.encode(piece, add_special_tokens=False).ids == [i] for i in range(size)])
    output = weights(size, DIM, scale=1.0) * favoured[:, None].astype(np.float32)
    writer.add_tensor("token_embd.weight", weights(size, DIM, scale=1.0))
    for n in range(LAYERS):
        writer.add_tensor(f"blk.{n}.attn_norm.weight", np.ones(DIM, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{n}.{name}.weight", weights(DIM, DIM))
        writer.add_tensor(f"blk.{n}.ffn_norm.weight", np.ones(DIM, dtype=np.float32))
        writer.add_tensor(f"blk.{n}.ffn_gate.weight", weights(FFN, DIM))
        writer.add_tensor(f"blk.{n}.ffn_up.weight", weights(FFN, DIM))
        writer.add_tensor(f"blk.{n}.ffn_down.weight", weights(DIM, FFN))
    writer.add_tensor("output_norm.weight", np.ones(DIM, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def score(model: Path, ctx: int, tokens: list[int], positions: list[int]) -> list[float]:
    """llama.cpp's logprob of tokens[i] after tokens[:i], for each i in positions."""
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=ctx, logits_all=True, verbose=False)
    llm.eval(tokens)
    out = []
    for i in positions:
        logits = np.asarray(llm.scores[i - 1], dtype=np.float64)
        top = logits.max()
        out.append(float(logits[tokens[i]] - top - np.log(np.exp(logits - top).sum())))
    return out


def serve(model: Path, ctx: int, port: int) -> None:
    """SGLang's `/generate` over llama.cpp: the prompt ids are evaluated as given, each token is
    sampled from the softmax of the last position's logits (numpy, seeded by `sampling_seed`) and
    reported with its log-softmax logprob (at temperature 1, as SGLang reports), one eval per token.
    Requests are served one at a time (one llama.cpp context)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=ctx, logits_all=True, verbose=False)
    eos = llm.token_eos()
    lock = threading.Lock()

    def generate(ids: list[int], params: dict) -> dict:
        limit = min(int(params.get("max_new_tokens") or 64), ctx - len(ids))
        temperature = float(params.get("temperature", 1.0))
        rng = np.random.default_rng(params.get("sampling_seed"))
        out: list[int] = []
        logprobs: list[float] = []
        with lock:
            llm.reset()
            llm.eval(ids)
            while len(out) < limit:
                logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
                top = logits.max()
                logp = logits - top - np.log(np.exp(logits - top).sum())
                if temperature <= 0:
                    token = int(logits.argmax())
                else:
                    p = np.exp((logits - top) / temperature)
                    token = int(rng.choice(len(p), p=p / p.sum()))
                out.append(token)
                logprobs.append(float(logp[token]))
                if token == eos:
                    break
                llm.eval([token])
        finish = {"type": "stop"} if out and out[-1] == eos else {"type": "length", "length": len(out)}
        return {"text": llm.detokenize(out).decode("utf-8", "replace"), "output_ids": out,
                "meta_info": {"output_token_logprobs": [[lp, t, None] for lp, t in zip(logprobs, out, strict=True)],
                              "finish_reason": finish, "prompt_tokens": len(ids)}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(200, {"ok": True}) if self.path == "/health" else self._reply(404, {"error": self.path})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/generate":
                return self._reply(404, {"error": self.path})
            self._reply(200, generate(list(body["input_ids"]), body.get("sampling_params") or {}))

    server = HTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "build":
        build(Path(args[0]), Path(args[1]).read_text(encoding="utf-8"), Path(args[2]), int(args[3]))
    elif command == "serve":
        serve(Path(args[0]), int(args[1]), int(args[2]))
    else:
        request = json.loads(sys.stdin.read())
        print(json.dumps(score(Path(args[0]), int(args[1]), request["tokens"], request["positions"])))
