"""Shared pieces of the export tests: a BPE tokenizer trained here, offline, with a Hermes/ChatML
chat template; vLLM-like token hooks for the scripted server; recorded sessions to export.

Nothing here downloads anything (HF_HUB_OFFLINE=1 is set by conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripted_server import Reply, ToolCall

END = "<|im_end|>"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", END]

# Hermes function calling in ChatML. Assistant output sits in {% generation %} (end token
# included) so transformers can report an assistant mask. transformers renders with
# trim_blocks, which eats a newline written right after a block tag, so those are {{ '\n' }}.
CHAT_TEMPLATE = (
    "{% if messages[0].role == 'system' or tools %}"
    "<|im_start|>system{{ '\\n' }}"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}{% endif %}"
    "{% if tools %}{{ '\\n\\n<tools>\\n' }}{% for tool in tools %}{{ tool | tojson }}{{ '\\n' }}{% endfor %}"
    "{{ '</tools>' }}{% endif %}"
    "<|im_end|>{{ '\\n' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'assistant' %}"
    "<|im_start|>assistant{{ '\\n' }}"
    "{% generation %}"
    "{% if message.reasoning __THINK_CONDITION__ %}{{ '<think>\\n' + message.reasoning + '\\n</think>\\n' }}{% endif %}"
    "{{ message.content or '' }}"
    "{% for call in message.tool_calls or [] %}"
    "{% if not loop.first or message.content %}{{ '\\n' }}{% endif %}"
    "{{ '<tool_call>\\n{\"name\": ' + (call.function.name | tojson) + ', \"arguments\": '"
    " + (call.function.arguments | tojson) + '}\\n</tool_call>' }}"
    "{% endfor %}"
    "<|im_end|>"
    "{% endgeneration %}"
    "{{ '\\n' }}"
    "{% elif message.role == 'tool' %}"
    "<|im_start|>tool{{ '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}<|im_end|>{{ '\\n' }}"
    "{% elif message.role == 'user' %}"
    "<|im_start|>user{{ '\\n' + message.content }}<|im_end|>{{ '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant{{ '\\n' }}{% endif %}"
)
HERMES_TEMPLATE = CHAT_TEMPLATE.replace("__THINK_CONDITION__", "")
# Like Qwen3's: earlier turns lose their reasoning, so a later prompt does not start with an
# earlier prompt plus its completion (formats.md §5.5, "non-prefix-stable templates").
THINK_LAST_ONLY_TEMPLATE = CHAT_TEMPLATE.replace("__THINK_CONDITION__", "and loop.last")

CORPUS = [
    "You are Hermes, an agent in the user's terminal. Use the tools you are given.",
    "What is 6*7? Use the terminal. The answer is 42. I should run it. Let me check the files.",
    '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo 42"}}\n</tool_call>',
    '<tool_response>\n{"output": "42\\n", "exit_code": 0, "error": null}\n</tool_response>',
    "<think>\nI should look at the directory first.\n</think>\n",
    '{"type": "function", "function": {"name": "terminal", "description": "Run a bash command", '
    '"parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}',
    "ls -la README.md pyproject.toml src tests; cat notes.txt; python3 --version; Python 3.11",
    "The quick brown fox jumps over the lazy dog while the build runs and the tests pass.",
    "system user assistant tool reasoning content arguments command output exit_code error",
]


def build_tokenizer(directory: Path, template: str = HERMES_TEMPLATE, vocab_size: int = 700) -> Any:
    """Train a byte-level BPE on CORPUS, wrap it as a PreTrainedTokenizerFast, save it to `directory`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=END, pad_token="<|endoftext|>")
    fast.chat_template = template
    fast.save_pretrained(directory)
    return fast


# -- what the "model" generates --------------------------------------------------------------------
def call_block(name: str, arguments: dict[str, Any]) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def model_text(content: str = "", *, reasoning: str | None = None, calls: list[ToolCall] = (), end: bool = True) -> str:
    """The text the model sampled for one turn, as the Hermes template renders it (end token included)."""
    text = f"<think>\n{reasoning}\n</think>\n" if reasoning else ""
    text += content
    blocks = [call_block(c.name, c.arguments) for c in calls]
    if blocks:
        text += ("\n" if content else "") + "\n".join(blocks)
    return text + (END if end else "")


def reply(content: str = "", *, reasoning: str | None = None, calls: list[ToolCall] = (),
          finish_reason: str | None = None) -> Reply:
    """A scripted reply whose raw text (what the token hooks see) is what the template renders."""
    truncated = finish_reason == "length"
    return Reply(content=content, reasoning=reasoning, tool_calls=list(calls), finish_reason=finish_reason,
                 raw_text=model_text(content, reasoning=reasoning, calls=calls, end=not truncated))


def tool_session_replies() -> list[Reply]:
    return [
        reply(reasoning="I should run it.", calls=[ToolCall("terminal", {"command": "echo 42"}, id="call_1")]),
        reply("The answer is 42."),
    ]


# -- a vLLM-like server ----------------------------------------------------------------------------
def _server_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What vLLM hands its chat template: tool-call arguments parsed into objects, no None content."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("content") is None:
            message["content"] = ""
        if message.get("tool_calls"):
            message["tool_calls"] = [
                dict(c, function=dict(c["function"], arguments=json.loads(c["function"]["arguments"] or "{}")))
                for c in message["tool_calls"]
            ]
        out.append(message)
    return out


class VllmHooks:
    """`token_ids` / `logprob_tokens` hooks: the prompt rendered with the chat template and encoded,
    the completion text encoded, one logprob per completion token. Every call is kept in `calls`."""

    def __init__(self, hf_tokenizer: Any, template: str | None = None) -> None:
        self.tok = hf_tokenizer
        self.template = template
        self.calls: list[dict[str, Any]] = []

    def prompt_ids(self, body: dict[str, Any]) -> list[int]:
        out = self.tok.apply_chat_template(_server_messages(body["messages"]), tools=body.get("tools"),
                                           add_generation_prompt=True, tokenize=True, return_dict=True,
                                           chat_template=self.template)
        return list(out["input_ids"])

    def token_ids(self, body: dict[str, Any], text: str) -> tuple[list[int], list[int]]:
        prompt, completion = self.prompt_ids(body), self.tok.encode(text, add_special_tokens=False)
        self.calls.append({"prompt": prompt, "completion": completion, "text": text, "body": body})
        return prompt, completion

    def logprob_tokens(self, body: dict[str, Any], text: str) -> list[tuple[str, float]]:
        ids = self.tok.encode(text, add_special_tokens=False)
        return [(self.tok.decode([i]), logprob(k)) for k, i in enumerate(ids)]

    def server_kwargs(self) -> dict[str, Any]:
        return {"token_ids": self.token_ids, "logprob_tokens": self.logprob_tokens}


def logprob(position: int) -> float:
    return round(-0.05 - 0.1 * (position % 6), 4)


# -- recorded sessions -----------------------------------------------------------------------------
KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123"


def record_session(llm: Any, prompts: list[str] | str, log_dir: Path, **agent_kwargs: Any) -> Path:
    """Run the real agent against `llm` (in-process) and return the event log it wrote."""
    from run_agent import AIAgent

    agent_kwargs.setdefault("enabled_toolsets", ["terminal"])
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, **agent_kwargs)
    for prompt in [prompts] if isinstance(prompts, str) else prompts:
        agent.chat(prompt)
    agent.close()
    return log_dir / f"session_{agent.session_id}.jsonl"


def write_log(path: Path, events: list[dict[str, Any]]) -> Path:
    """A hand-written event log: `v`, `seq` are filled in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for seq, event in enumerate(events, 1):
            fh.write(json.dumps({"v": 1, "seq": seq, **event}, ensure_ascii=False) + "\n")
    return path


# -- hand-written logs and in-process exports -------------------------------------------------------
TOOLS = [{"type": "function", "function": {
    "name": "terminal", "description": "Execute shell commands",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}]


def small_session(path: Path, *, ephemeral: bool = False, status: str = "success") -> Path:
    call = {"type": "llm_call", "ts": "2026-11-21T10:00:01.000000", "model": "nous/hermes-test",
            "usage": {"prompt_tokens": 412, "completion_tokens": 5}, "latency": 0.5}
    return write_log(path, [
        {"type": "session_start", "ts": "2026-11-21T10:00:00.000001", "session_id": "20261121_100000_abc123",
         "model": "nous/hermes-test", "tools": TOOLS, "system_prompt": "You are a helpful terminal agent.",
         "ephemeral_system_prompt": ephemeral, "mode": "oneshot"},
        {"type": "message", "ts": "2026-11-21T10:00:00.5", "message": {"role": "user",
                                                                       "content": "What Python version is installed?"}},
        {**call, "call": 1, "prompt_messages": 1, "finish_reason": "tool_calls"},
        {"type": "message", "ts": "2026-11-21T10:00:01.1", "message": {
            "role": "assistant", "content": None, "reasoning": "I should run python3 --version.",
            "tool_calls": [{"id": "call_abc123", "type": "function",
                            "function": {"name": "terminal", "arguments": "{\"command\": \"python3 --version\"}"}}]}},
        {"type": "message", "ts": "2026-11-21T10:00:02", "message": {
            "role": "tool", "tool_call_id": "call_abc123",
            "content": "{\"output\": \"Python 3.11.6\\n\", \"exit_code\": 0, \"error\": null}"}},
        {**call, "call": 2, "prompt_messages": 3, "finish_reason": "stop", "usage": {"prompt_tokens": 440,
                                                                                    "completion_tokens": 7}},
        {"type": "message", "ts": "2026-11-21T10:00:05", "message": {
            "role": "assistant", "content": "Python 3.11.6 is installed on this system ✓"}},
        {"type": "run_end", "ts": "2026-11-21T10:00:05.123456", "status": status, "error": None},
        {"type": "session_end", "ts": "2026-11-21T10:00:06", "status": "closed"},
    ])


def export(log: Path, tokenizer, out: Path, fmt: str = "rollout", **options: Any) -> list[dict[str, Any]]:
    from exports.pipeline import ExportOptions, run_export
    from exports.writer import JsonlWriter

    report = run_export([log], ExportOptions(fmt=fmt, tokenizer=tokenizer, **options), JsonlWriter(str(out)))
    assert not report.failures, report.failures
    return read_jsonl_text(out.read_text(encoding="utf-8"))


def masked_in(record: dict[str, Any]) -> list[list[int]]:
    """Runs of trained tokens, in order."""
    runs, current = [], []
    for token, m in zip(record["tokens"], record["loss_mask"], strict=True):
        if m:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def read_jsonl_text(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def atropos_batch(group: dict, checkpoint_dir: Path) -> list | None:
    """Send one scored group through atroposlib's API server (in process) as a trainer would,
    and return the batch a trainer then pulls."""
    from atroposlib.api import server as api
    from fastapi.testclient import TestClient

    with TestClient(api.app) as client:
        assert client.post("/register", json={
            "wandb_group": "g", "wandb_project": "p", "batch_size": 2, "max_token_len": 4096,
            "checkpoint_dir": str(checkpoint_dir), "save_checkpoint_interval": 0, "starting_step": 0,
            "num_steps": 1}).status_code == 200
        assert client.post("/scored_data_list", json=[group]).status_code == 200
        return client.get("/batch").json()["batch"]

