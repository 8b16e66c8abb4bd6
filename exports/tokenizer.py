"""A Hugging Face tokenizer with its chat template, for token-level exports and token counting.

Loaded from a local directory or a hub name. transformers is an optional extra
(`pip install 'hermes-agent[tokenizers]'`) and is imported only here, on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

INSTALL_HINT = "pip install 'hermes-agent[tokenizers]' (transformers + tokenizers; torch is not needed)"
# End-of-turn markers of common chat templates; the tokenizer's own EOS is always included.
_EOT_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spelled_as_path(name: str) -> bool:
    """Hub ids are `name` or `org/name`; anything else is meant as a local directory."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


@dataclass
class ChatTokenizer:
    """The tokenizer plus what exports record about it (id, hashes, end-of-turn ids)."""

    name: str
    hf: Any
    chat_template: str | None
    eot_ids: frozenset[int] = field(default_factory=frozenset)
    _sha: str | None = None

    @property
    def chat_template_sha256(self) -> str | None:
        return sha256_text(self.chat_template) if self.chat_template else None

    @property
    def tokenizer_sha256(self) -> str:
        """Hash of the full tokenizer definition (vocab, merges, normalizers), computed once."""
        if self._sha is None:
            backend = getattr(self.hf, "backend_tokenizer", None)
            text = backend.to_str() if backend is not None else json.dumps(self.hf.get_vocab(), sort_keys=True)
            self._sha = sha256_text(text)
        return self._sha

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @property
    def is_bpe(self) -> bool:
        backend = getattr(self.hf, "backend_tokenizer", None)
        return backend is not None and type(backend.model).__name__ == "BPE"

    @property
    def has_generation_markers(self) -> bool:
        return bool(self.chat_template and _GENERATION_TAG.search(self.chat_template))

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False))

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many strings in one batched call."""
        if not texts:
            return []
        return [len(ids) for ids in self.hf(texts, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: list[int]) -> str:
        backend = getattr(self.hf, "backend_tokenizer", None)
        if backend is not None:  # the Rust tokenizer itself: a third of the time of the Python wrapper
            return backend.decode(ids, skip_special_tokens=False)
        return self.hf.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *,
        add_generation_prompt: bool = False, assistant_mask: bool = False,
    ) -> tuple[list[int], list[int] | None]:
        """Token ids of the chat template applied to `messages`, and the assistant mask if asked."""
        if not self.chat_template:
            raise ConfigError(f"tokenizer {self.name!r} has no chat template; pass --chat-template FILE")
        want_mask = assistant_mask and self.has_generation_markers
        out = self.hf.apply_chat_template(
            messages, tools=tools or None, tokenize=True, return_dict=True,
            add_generation_prompt=add_generation_prompt, return_assistant_tokens_mask=want_mask,
            chat_template=self.chat_template,
        )
        ids = list(out["input_ids"])
        return ids, (list(out["assistant_masks"]) if want_mask else None)

    def render_text(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *,
                    add_generation_prompt: bool = False) -> str:
        """The chat template's text for `messages` (no tokenizing)."""
        if not self.chat_template:
            raise ConfigError(f"tokenizer {self.name!r} has no chat template; pass --chat-template FILE")
        return self.hf.apply_chat_template(messages, tools=tools or None, tokenize=False,
                                           add_generation_prompt=add_generation_prompt,
                                           chat_template=self.chat_template)

    def describe(self) -> dict[str, Any]:
        return {"tokenizer": self.name, "tokenizer_sha256": self.tokenizer_sha256,
                "chat_template_sha256": self.chat_template_sha256}


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as a vLLM-style server hands them to a chat template: tool-call arguments parsed
    into objects, no None content, reasoning under both names templates read."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [_parsed_call(c) for c in message["tool_calls"]]
        if message.get("content") is None:
            message["content"] = ""
        if message.get("reasoning") and "reasoning_content" not in message:
            message["reasoning_content"] = message["reasoning"]
        out.append(message)
    return out


def _parsed_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args or "{}")
        except json.JSONDecodeError:
            pass  # the template gets the string the model wrote
    return dict(call, function=dict(fn, arguments=args))


def _import_auto_tokenizer() -> Any:
    try:
        from transformers import AutoTokenizer  # heavy: ~1 s; only token-level exports need it
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise ConfigError(f"token-level exports need a tokenizer library: {INSTALL_HINT}") from None
    hf_logging.set_verbosity_error()  # "PyTorch was not found" is expected: we only tokenize
    return AutoTokenizer


def _eot_ids(hf: Any) -> frozenset[int]:
    vocab = hf.get_vocab()
    ids = {vocab[t] for t in _EOT_TOKENS if t in vocab}
    if hf.eos_token_id is not None:
        ids.add(hf.eos_token_id)
    return frozenset(ids)


def load_tokenizer(name: str, chat_template: Path | None = None) -> ChatTokenizer:
    """Load `name` (a local directory or a hub id); `chat_template` (a .jinja file) overrides its template."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    path = Path(name).expanduser()
    if _spelled_as_path(name) and not path.exists():
        raise ConfigError(f"tokenizer directory {name} does not exist")
    auto = _import_auto_tokenizer()
    try:
        hf = auto.from_pretrained(str(path) if path.exists() else name)
    except Exception as exc:  # OSError (not found / offline), ValueError (unknown class), …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot load tokenizer {name!r}: {first}") from None
    template = getattr(hf, "chat_template", None)
    if chat_template is not None:
        try:
            template = chat_template.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read chat template {chat_template}: {exc.strerror}") from None
    if isinstance(template, dict):  # several named templates: the default one renders chats
        template = template.get("default") or next(iter(template.values()), None)
    return ChatTokenizer(name=name, hf=hf, chat_template=template, eot_ids=_eot_ids(hf))
