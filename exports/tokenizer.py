"""A Hugging Face tokenizer with its chat template, for token-level exports and token counting.

Loaded from a local directory or a hub name. transformers is an optional extra
(`pip install 'hermes-agent[tokenizers]'`) and is imported only here, on first use; a plain local
directory is read with the `tokenizers` library and jinja2 alone (exports/chat_render.py), which
give the same ids without the ~1.8 s transformers import.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from exports import chat_render

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
    """The tokenizer plus what exports record about it (id, hashes, end-of-turn ids).

    `hf` is the transformers tokenizer; None when the directory was loaded without transformers,
    and then `backend` (a `tokenizers.Tokenizer`) and `special_tokens` (what transformers passes
    the template as variables) stand in for it."""

    name: str
    hf: Any
    chat_template: str | None
    eot_ids: frozenset[int] = field(default_factory=frozenset)
    _sha: str | None = None
    backend: Any = None
    special_tokens: dict[str, str] = field(default_factory=dict)
    _encoder: chat_render.PieceEncoder | None = None

    @property
    def light(self) -> bool:
        """Rendered and encoded here, not by transformers: a render costs only its new text."""
        return self.hf is None

    @property
    def _backend(self) -> Any:
        return self.backend if self.hf is None else getattr(self.hf, "backend_tokenizer", None)

    @property
    def chat_template_sha256(self) -> str | None:
        return sha256_text(self.chat_template) if self.chat_template else None

    @property
    def tokenizer_sha256(self) -> str:
        """Hash of the full tokenizer definition (vocab, merges, normalizers), computed once."""
        if self._sha is None:
            backend = self._backend
            text = backend.to_str() if backend is not None else json.dumps(self.hf.get_vocab(), sort_keys=True)
            self._sha = sha256_text(text)
        return self._sha

    @property
    def vocab_size(self) -> int:
        return len(self.hf) if self.hf is not None else self.backend.get_vocab_size(with_added_tokens=True)

    @property
    def is_bpe(self) -> bool:
        backend = self._backend
        return backend is not None and type(backend.model).__name__ == "BPE"

    @property
    def has_generation_markers(self) -> bool:
        return bool(self.chat_template and _GENERATION_TAG.search(self.chat_template))

    def encode(self, text: str) -> list[int]:
        if self.hf is None:
            return list(self.backend.encode(text, add_special_tokens=False).ids)
        return list(self.hf.encode(text, add_special_tokens=False))

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many strings in one batched call."""
        if not texts:
            return []
        if self.hf is None:
            return [len(e.ids) for e in self.backend.encode_batch(texts, add_special_tokens=False)]
        return [len(ids) for ids in self.hf(texts, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: list[int]) -> str:
        backend = self._backend
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
        if self.hf is None:
            if self._encoder is None:
                self._encoder = chat_render.PieceEncoder(self.backend)
            text, spans = chat_render.render(self.chat_template, messages, tools or None, self.special_tokens,
                                             add_generation_prompt=add_generation_prompt, track=want_mask)
            encoded = self._encoder.encode(text)
            return encoded.ids, (chat_render.assistant_mask(encoded, spans) if want_mask else None)
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
        if self.hf is None:
            return chat_render.render(self.chat_template, messages, tools or None, self.special_tokens,
                                      add_generation_prompt=add_generation_prompt)[0]
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


def _transformers_major() -> int | None:
    """transformers' major version if installed (found without importing it), else None."""
    if importlib.util.find_spec("transformers") is None:
        return None
    try:
        return int(metadata.version("transformers").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def _jinja2_ok() -> bool:
    """jinja2 >= 3.1.6, which transformers insists on (older ones have sandbox escapes): below
    that, transformers' own path gives its own error."""
    try:
        parts = re.match(r"(\d+)\.(\d+)\.?(\d*)", metadata.version("jinja2"))
    except metadata.PackageNotFoundError:
        return False
    return parts is not None and tuple(int(p or 0) for p in parts.groups()) >= (3, 1, 6)


def _load_light(name: str, path: Path, chat_template: Path | None) -> ChatTokenizer | None:
    """`path` read without transformers, when transformers would load it as its bare tokenizer.json.

    Only alongside transformers 5 (whose rendering chat_render mirrors; an older one renders
    differently and is used itself), and only where it is installed at all: without it the
    export still stops with the install hint, whichever directory is given."""
    if _transformers_major() != 5 or importlib.util.find_spec("tokenizers") is None or not _jinja2_ok():
        return None
    found = chat_render.light_config(path)
    if found is None:
        return None
    template, special = found
    if chat_template is not None:
        template = _read_template(chat_template)
    backend = chat_render.load_backend(path)
    vocab = backend.get_vocab(with_added_tokens=True)
    ids = {vocab[t] for t in _EOT_TOKENS if t in vocab}
    if "eos_token" in special:
        ids.add(backend.token_to_id(special["eos_token"]))
    return ChatTokenizer(name=name, hf=None, chat_template=template, eot_ids=frozenset(ids), backend=backend,
                         special_tokens=special)


def _read_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read chat template {path}: {exc.strerror}") from None


def load_tokenizer(name: str, chat_template: Path | None = None, *, use_transformers: bool = False) -> ChatTokenizer:
    """Load `name` (a local directory or a hub id); `chat_template` (a .jinja file) overrides its template.

    `use_transformers`: load and render through transformers even where it is not needed (tests
    compare the two paths)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    path = Path(name).expanduser()
    if _spelled_as_path(name) and not path.exists():
        raise ConfigError(f"tokenizer directory {name} does not exist")
    if path.is_dir() and not use_transformers and (light := _load_light(name, path, chat_template)) is not None:
        return light
    auto = _import_auto_tokenizer()
    try:
        hf = auto.from_pretrained(str(path) if path.exists() else name)
    except Exception as exc:  # OSError (not found / offline), ValueError (unknown class), …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot load tokenizer {name!r}: {first}") from None
    template = getattr(hf, "chat_template", None)
    if chat_template is not None:
        template = _read_template(chat_template)
    if isinstance(template, dict):  # several named templates: the default one renders chats
        template = template.get("default") or next(iter(template.values()), None)
    return ChatTokenizer(name=name, hf=hf, chat_template=template, eot_ids=_eot_ids(hf))
