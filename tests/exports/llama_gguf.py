"""Run by the interpreter that has llama-cpp-python (the `llama` extra): builds a tiny random-weight
Llama GGUF from a tokenizer.json trained by the test (numpy + `gguf`, no torch), and scores a token
sequence with llama.cpp itself (an independent check of the ids and logprobs a session recorded).

    python llama_gguf.py build TOKENIZER_JSON TEMPLATE_FILE OUT_GGUF CTX
    python llama_gguf.py score MODEL_GGUF CTX < {"tokens": [...], "positions": [...]}  -> [logprob, ...]
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


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "build":
        build(Path(args[0]), Path(args[1]).read_text(encoding="utf-8"), Path(args[2]), int(args[3]))
    else:
        request = json.loads(sys.stdin.read())
        print(json.dumps(score(Path(args[0]), int(args[1]), request["tokens"], request["positions"])))
