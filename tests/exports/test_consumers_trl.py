"""The `messages` export through TRL's own chat-template helper and the real Qwen2.5, Qwen3 and
Llama-3.1 templates TRL ships (read from the installed package): the prompt TRL renders for a row is
exactly what the server rendered for that call. The `openai` export, whose arguments are JSON
strings, renders them double-encoded under these templates: that is why both formats exist.

TRL's trainer needs torch; its templates and helpers do not: `pip install --no-deps trl==1.16.0`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY, VllmHooks, export

if importlib.util.find_spec("trl") is None:
    pytest.skip("trl is not installed (pip install --no-deps trl==1.16.0: its chat templates and helpers "
                "need no torch)", allow_module_level=True)

QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
FAMILIES = {
    # template file in trl/chat_templates, special tokens, eos, added non-special tokens
    "qwen2_5": (QWEN_SPECIAL, "<|im_end|>", ["<tool_call>", "</tool_call>"]),
    "qwen3": (QWEN_SPECIAL, "<|im_end|>", ["<tool_call>", "</tool_call>", "<think>", "</think>",
                                           "<tool_response>", "</tool_response>"]),
    "llama3_1": (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"], "<|eot_id|>", []),
}


def trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text(encoding="utf-8")


def family_tokenizer(directory: Path, name: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.exports.toolkit import CORPUS

    special, eos, added = FAMILIES[name]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    kwargs = {"bos_token": special[0]} if name == "llama3_1" else {}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=special[1], **kwargs)
    if added:
        fast.add_tokens(added)
    fast.chat_template = trl_template(name)
    fast.save_pretrained(directory)
    return fast


def responder(body: dict, index: int) -> Reply:
    if body["messages"][-1]["role"] == "tool":
        return Reply(f"It printed {index}.")
    return Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_trl_renders_the_messages_export_as_the_server_did(family, scripted_llm, log_dir, tmp_path):
    from trl.data_utils import apply_chat_template, is_conversational

    from run_agent import AIAgent

    tok = family_tokenizer(tmp_path / family, family)
    hooks = VllmHooks(tok)  # the server renders with the tokenizer's own (TRL-shipped) template
    llm = scripted_llm(responder, **hooks.server_kwargs())
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"])
    agent.chat("first")
    agent.chat("second")
    agent.close()
    log = log_dir / f"session_{agent.session_id}.jsonl"
    (row,) = export(log, None, tmp_path / "m.jsonl", fmt="messages")
    assert is_conversational(row)
    last = llm.chat_requests[-1].body
    served = tok.decode(hooks.prompt_ids(last))
    example = {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}
    rendered = apply_chat_template(example, tok, tools=row["tools"])
    assert rendered["prompt"] == served

    (openai_row,) = export(log, None, tmp_path / "o.jsonl", fmt="openai")
    messages = [{k: v for k, v in m.items() if k != "weight"} for m in openai_row["messages"]]
    double = apply_chat_template({"prompt": messages[:-1], "completion": messages[-1:]}, tok,
                                 tools=openai_row["tools"])["prompt"]
    if family == "qwen3":
        assert double == served  # Qwen3 prints string arguments verbatim
    else:  # Qwen2.5 and Llama-3.1 apply tojson: string arguments come out double-encoded
        assert double != served and '\\"command\\"' in double


def test_trl_training_mask_covers_the_rollout_loss_mask(scripted_llm, log_dir, tmp_path):
    """Qwen2.5 with TRL's training template (generation markers): the tokens TRL trains on include
    every token hermes' rollout trains on (TRL also masks in the newline around each turn)."""
    from trl.chat_template_utils import get_training_chat_template

    from exports.tokenizer import load_tokenizer
    from run_agent import AIAgent

    tok = family_tokenizer(tmp_path / "qwen2_5", "qwen2_5")
    hooks = VllmHooks(tok)
    llm = scripted_llm(responder, **hooks.server_kwargs())
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"])
    agent.chat("first")
    agent.close()
    log = log_dir / f"session_{agent.session_id}.jsonl"
    (row,) = export(log, None, tmp_path / "m.jsonl", fmt="messages")
    (record,) = export(log, load_tokenizer(str(tmp_path / "qwen2_5")), tmp_path / "r.jsonl")
    out = tok.apply_chat_template(row["messages"], tools=row["tools"], tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True,
                                  chat_template=get_training_chat_template(tok))
    ids, trl_mask = list(out["input_ids"]), list(out["assistant_masks"])
    assert ids[: len(record["tokens"])] == record["tokens"]
    assert all(trl_mask[i] for i, m in enumerate(record["loss_mask"]) if m)
