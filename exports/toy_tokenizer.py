"""A small byte-level BPE tokenizer with a Hermes/ChatML chat template, trained offline in well
under a second: for tests, the export benchmark and trying `hermes export --format rollout`
without downloading a model (`python -m exports.toy_tokenizer DIR` saves one).

The template marks assistant output with `{% generation %}` (so `return_assistant_tokens_mask`
works), renders tool calls as Hermes `<tool_call>` JSON and tool results as `<tool_response>`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Jinja with trim_blocks (as transformers configures it) eats a newline written right after a
# block tag, so those newlines are emitted as {{ '\n' }}.
CHAT_TEMPLATE = (
    "{% if messages[0].role == 'system' or tools %}<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ messages[0].content }}{% endif %}"
    "{% if tools %}{{ '\\n' }}\n<tools>\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}</tools>"
    "{% endif %}<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}"
    "{% if message.reasoning %}<think>\n{{ message.reasoning }}\n</think>\n{% endif %}"
    "{% if message.content %}{{ message.content }}{% endif %}"
    "{% for tc in message.tool_calls or [] %}"
    "{% if not loop.first or message.content %}{{ '\\n' }}{% endif %}"
    "<tool_call>\n{\"name\": \"{{ tc.function.name }}\", \"arguments\": {{ tc.function.arguments | tojson }}}\n</tool_call>"
    "{% endfor %}<|im_end|>{% endgeneration %}{{ '\\n' }}"
    "{% elif message.role == 'tool' %}<|im_start|>tool\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n"
    "{% elif message.role != 'system' %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "You are Hermes, an AI agent working in the user's terminal. Use your tools to act.",
    "What is 6*7? Use the terminal. The answer is 42. I should run it.",
    '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo 42"}}\n</tool_call>',
    '<tool_response>\n{"output": "42\\n", "exit_code": 0, "error": null}\n</tool_response>',
    "<think>\nLet me look at the files first.\n</think>\n",
    '{"type": "function", "function": {"name": "read_file", "description": "Read a file", '
    '"parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}',
    "def main():\n    print('hello world')\n\nif __name__ == '__main__':\n    main()\n",
    "README.md pyproject.toml src/ tests/ total 48 drwxr-xr-x 5 root root 4096",
    "The quick brown fox jumps over the lazy dog. Python 3.11 is installed on this system.",
    "system user assistant tool reasoning content arguments command output exit_code error",
]


def build_toy_tokenizer(vocab_size: int = 800) -> Any:
    """A `PreTrainedTokenizerFast` with the template above; deterministic for a given vocab size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 8, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m exports.toy_tokenizer DIR\n")
        return 2
    build_toy_tokenizer().save_pretrained(Path(argv[0]))
    print(f"saved a toy tokenizer to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
