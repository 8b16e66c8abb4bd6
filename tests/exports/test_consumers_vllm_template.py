"""The `messages` export through vLLM's Hermes tool chat template
(`examples/tool_chat_template_hermes.jinja` in vllm-project/vllm, Apache-2.0): every call's prompt
renders from the row exactly as the server rendered it, and every assistant turn as exactly the text
the model sampled. The template raises on tool messages without `name`: the export carries it.

The template is not vendored here. The test reads it from $HERMES_VLLM_HERMES_TEMPLATE, or
tests/exports/fixtures/tool_chat_template_hermes.jinja, or
~/.cache/hermes-tests/vllm/tool_chat_template_hermes.jinja, and is skipped with that reason without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY, VllmHooks, export

NAME = "tool_chat_template_hermes.jinja"
ENV = os.environ.get("HERMES_VLLM_HERMES_TEMPLATE")  # read at import: test fixtures clear HERMES_* variables
PLACES = [Path(ENV)] if ENV else []
PLACES += [Path(__file__).parent / "fixtures" / NAME,
           Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hermes-tests" / "vllm" / NAME]
END = "<|im_end|>"


def vllm_template() -> str:
    for place in PLACES:
        if place.is_file():
            return place.read_text(encoding="utf-8")
    pytest.skip(f"vLLM's examples/{NAME} not found: save it from vllm-project/vllm to {PLACES[-1]} "
                "(or set HERMES_VLLM_HERMES_TEMPLATE to its path)")


def sampled(reply: Reply) -> str:
    """What a model trained on this template samples: its own tool-call shape, then the end token."""
    if not reply.tool_calls:
        return reply.content + END
    blocks = ['<tool_call>\n{ "arguments": ' + json.dumps(c.arguments, ensure_ascii=False) + ', "name": "'
              + c.name + '"}\n</tool_call> ' for c in reply.tool_calls]
    return "\n".join(blocks) + END


def responder(body: dict, index: int) -> Reply:
    last = body["messages"][-1]
    if last["role"] == "tool":
        out = Reply(f"It printed {index}.")
    elif "both" in last["content"]:
        out = Reply(tool_calls=[ToolCall("terminal", {"command": "echo a"}, id=f"a_{index}"),
                                ToolCall("terminal", {"command": "echo 'b c'"}, id=f"b_{index}")])
    else:
        out = Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])
    out.raw_text = sampled(out)
    return out


class HermesTemplateServer(VllmHooks):
    """vLLM serving with this template. hermes' live requests carry no tool `name` (the OpenAI API
    defines none, and vLLM passes on only what it is sent), so the stand-in names each result from
    its call, as the template demands."""

    def prompt_ids(self, body: dict[str, Any]) -> list[int]:
        names = {c["id"]: c["function"]["name"] for m in body["messages"] for c in m.get("tool_calls") or []}
        messages = [dict(m, name=names[m["tool_call_id"]]) if m["role"] == "tool" else m for m in body["messages"]]
        return super().prompt_ids(dict(body, messages=messages))


def tokenizer(directory: Path, template: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.exports.toolkit import CORPUS, SPECIAL_TOKENS

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=END, pad_token="<|endoftext|>")
    fast.chat_template = template
    fast.save_pretrained(directory)
    return fast


def test_messages_render_through_vllms_hermes_template_as_served_and_sampled(scripted_llm, log_dir, tmp_path):
    from run_agent import AIAgent

    tok = tokenizer(tmp_path / "tok", vllm_template())
    server = HermesTemplateServer(tok)
    llm = scripted_llm(responder, **server.server_kwargs())
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"],
                    token_capture=True)
    agent.chat("first")
    agent.chat("do both")
    agent.close()
    (row,) = export(log_dir / f"session_{agent.session_id}.jsonl", None, tmp_path / "m.jsonl", fmt="messages")
    assert [m["name"] for m in row["messages"] if m["role"] == "tool"] == ["terminal"] * 3

    def render(messages: list[dict], prompt: bool) -> str:
        return tok.apply_chat_template(messages, tools=row["tools"], tokenize=False, add_generation_prompt=prompt)

    assistant_at = [i for i, m in enumerate(row["messages"]) if m["role"] == "assistant"]
    assert len(assistant_at) == len(server.calls) == 4
    for at, served in zip(assistant_at, server.calls, strict=True):
        seen = tok.decode(served["prompt"])
        assert render(row["messages"][:at], True) == seen  # the prompt, as the server rendered it
        # ... and the turn, as the model sampled it (the template adds a newline after the end token)
        assert render(row["messages"][: at + 1], False) == seen + served["text"] + "\n"
