"""Chat-template rendering and encoding without transformers, for a plain local tokenizer directory.

Importing transformers costs ~1.8 s, more than exporting hundreds of sessions. For a directory
holding a `tokenizer.json` that transformers would load as it is (`TokenizersBackend` /
`PreTrainedTokenizerFast`, no settings that rewrite the backend), the `tokenizers` library and
jinja2 give the same ids: `render` mirrors transformers' `apply_chat_template` (its sandboxed
Jinja environment, globals, filters and `{% generation %}` tracking, messages prepared the same
way), and `PieceEncoder` encodes the rendered text as the tokenizer would. Anything else goes
through transformers (exports/tokenizer.py decides). tests/exports/test_light_tokenizer.py checks
both paths give the same bytes.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

# tokenizer_config.json keys that do not change how transformers builds the backend or renders
# a chat; any other key (add_prefix_space, split_special_tokens, extra tokens, auto_map, …) sends
# the directory through transformers.
_NAMED_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_HARMLESS_KEYS = frozenset({
    "tokenizer_class", "backend", "model_max_length", "clean_up_tokenization_spaces", "chat_template",
    "added_tokens_decoder", "padding_side", "truncation_side", "model_input_names",
    "add_bos_token", "add_eos_token",  # dropped by transformers when tokenizer.json exists
    *_NAMED_TOKENS,
})
_PLAIN_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")
_ADDED_TOKEN_FLAGS = ("special", "lstrip", "rstrip", "normalized", "single_word")
# Tokens of encoded pieces kept (least recently used dropped first): a long session's conversation
# plus the system prompt, which recurs in every session; an Encoding costs ~100 bytes per token.
_PIECE_CACHE_TOKENS = 1 << 17


# -- loading -----------------------------------------------------------------------------------------
def light_config(directory: Path) -> tuple[str | None, dict[str, str]] | None:
    """(chat template, named special tokens) if transformers would load `directory` as its bare
    tokenizer.json, else None (then transformers loads it)."""
    if not (directory / "tokenizer.json").is_file() or (directory / "additional_chat_templates").exists() \
            or (directory / "chat_template.json").exists():
        return None
    try:
        config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
        tokenizer_json = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("tokenizer_class") not in _PLAIN_CLASSES \
            or set(config) - _HARMLESS_KEYS or tokenizer_json.get("truncation") or tokenizer_json.get("padding") \
            or tokenizer_json.get("post_processor") is None:
        return None
    added = {t.get("content"): t for t in tokenizer_json.get("added_tokens") or []}
    special: dict[str, str] = {}
    for key in _NAMED_TOKENS:
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if value is None:
            continue
        token = added.get(value)
        # transformers (re-)adds each named token as a plain special token: already so, or bail
        if not isinstance(value, str) or token is None or not token.get("special") or any(
                token.get(flag) for flag in ("normalized", "lstrip", "rstrip", "single_word")):
            return None
        special[key] = value
    for index, token in (config.get("added_tokens_decoder") or {}).items():
        known = added.get(token.get("content")) if isinstance(token, dict) else None
        if known is None or str(known.get("id")) != str(index) or any(
                bool(known.get(k)) != bool(token.get(k)) for k in _ADDED_TOKEN_FLAGS):
            return None
    template = config.get("chat_template")
    if (directory / "chat_template.jinja").is_file():  # the file wins over the config entry, as in transformers
        template = (directory / "chat_template.jinja").read_text(encoding="utf-8")
    if template is not None and not isinstance(template, str):
        return None  # several named templates: transformers picks among them
    return template, special


# -- rendering ---------------------------------------------------------------------------------------
@lru_cache
def _compile(template: str) -> Any:
    """The template in an environment built like transformers' `_compile_jinja_template`."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class AssistantTracker(jinja2.ext.Extension):
        # Records the character span of each {% generation %} block, as transformers does.
        tags = {"generation"}

        def __init__(self, environment: ImmutableSandboxedEnvironment) -> None:
            super().__init__(environment)
            environment.extend(activate_tracker=self.activate_tracker)
            self._blocks: list[str] | None = None
            self._spans: list[tuple[int, int]] | None = None

        def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.CallBlock:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context: jinja2.nodes.EvalContext, caller: jinja2.runtime.Macro) -> str:
            rv = caller()
            if self._blocks is not None and self._spans is not None:
                start = len("".join(self._blocks))
                self._spans.append((start, start + len(rv)))
            return rv

        @contextmanager
        def activate_tracker(self, blocks: list[str], spans: list[tuple[int, int]]) -> Iterator[None]:
            try:
                self._blocks, self._spans = blocks, spans
                yield
            finally:
                self._blocks = self._spans = None

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        # Jinja's own tojson escapes HTML characters; templates expect plain json.dumps
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    class TemplateDict:
        # dict() without attribute access to the type, as transformers exposes it
        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        # namespace() that refuses underscore names, as transformers' does
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                    "Please rename the attribute.")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now, dict=TemplateDict(),
                       namespace=TemplateNamespace)
    return env.from_string(template)


_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def _prepared(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as transformers hands them to the template: keys whose value is None dropped,
    reasoning also under `thinking` and `reasoning_content`. (transformers also rebuilds inputs
    from plain JSON types against rich objects; exports pass JSON already, which the immutable
    sandbox cannot modify.)"""
    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if v is not None}
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        out.append(message)
    return out


def render(template: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
           special_tokens: dict[str, str], *, add_generation_prompt: bool,
           track: bool = False) -> tuple[str, list[tuple[int, int]]]:
    """The template's text for `messages`, and the character spans of its {% generation %} blocks
    (only with `track`)."""
    compiled = _compile(template)
    variables = {**special_tokens, "messages": _prepared(messages), "tools": tools, "documents": None,
                 "add_generation_prompt": add_generation_prompt}
    if not track:
        return compiled.render(**variables), []
    blocks: list[str] = []
    spans: list[tuple[int, int]] = []
    with compiled.environment.activate_tracker(blocks, spans):
        for block in compiled.generate(**variables):
            blocks.append(block)
    return "".join(blocks), spans


# -- encoding ----------------------------------------------------------------------------------------
def _piecewise_ok(backend: Any) -> bool:
    """Whether encoding the text between added tokens piece by piece gives the tokenizer's own ids.

    `tokenizers` itself first splits the input at added tokens and normalizes, pre-tokenizes and
    runs the model on each piece on its own, so that holds when added tokens match as plain
    strings (not normalized, no strip/word rules) and nothing depends on where a piece sits in the
    whole text (Metaspace's "first" prefix does; ByteLevel, Split and NFC do not)."""
    data = json.loads(backend.to_str())
    for token in data.get("added_tokens") or []:
        if token.get("normalized") or token.get("lstrip") or token.get("rstrip") or token.get("single_word"):
            return False
    if (data.get("model") or {}).get("type") != "BPE" or backend.encode_special_tokens:
        return False
    return _kinds(data.get("normalizer"), {"NFC", "NFD", "NFKC", "NFKD"}) and \
        _kinds(data.get("pre_tokenizer"), {"ByteLevel", "Split", "Digits"})


def _kinds(component: dict[str, Any] | None, allowed: set[str]) -> bool:
    if component is None:
        return True
    kind = component.get("type")
    if kind == "Sequence":
        parts = component.get("normalizers") or component.get("pretokenizers") or []
        return all(_kinds(part, allowed) for part in parts)
    return kind in allowed and not component.get("add_prefix_space") and component.get("prepend_scheme") is None


class Encoded:
    """Ids of a rendered chat plus `char_to_token`, as the tokenizer's Encoding would give them."""

    def __init__(self, ids: list[int], starts: list[int], tokens: list[int], pieces: list[Any], length: int) -> None:
        self.ids = ids
        self._starts, self._tokens, self._pieces, self._length = starts, tokens, pieces, length

    def char_to_token(self, pos: int) -> int | None:
        at = bisect_right(self._starts, pos) - 1
        if at < 0 or pos >= self._length:
            return None
        piece = self._pieces[at]
        if piece is None:  # an added token: one token covers the whole piece
            return self._tokens[at]
        local = piece.char_to_token(pos - self._starts[at])
        return None if local is None else self._tokens[at] + local


class PieceEncoder:
    """Encodes rendered chats piece by piece (text between added tokens), each distinct piece once.

    A session renders its growing conversation once per model call; the pieces of earlier
    messages (and the system prompt with its tool list, the same in every session) come from
    the cache, so the work per render is the new text only, not the whole conversation again."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.piecewise = _piecewise_ok(backend)
        added = [t.content for t in backend.get_added_tokens_decoder().values()]
        # Longest first: at one position Python's regex takes the first alternative, which makes
        # it leftmost-longest like the tokenizer's own added-token matcher.
        self._split = re.compile("|".join(map(re.escape, sorted(added, key=len, reverse=True)))) if added else None
        self._added = {t: backend.token_to_id(t) for t in added}
        self._cache: OrderedDict[str, Any] = OrderedDict()  # LRU, O(1) removal of the oldest
        self._cached_tokens = 0

    def encode(self, text: str) -> Encoded:
        if not self.piecewise or self._split is None:
            encoding = self.backend.encode(text, add_special_tokens=False)
            return Encoded(list(encoding.ids), [0], [0], [encoding], len(text))
        pieces: list[tuple[int, str, bool]] = []  # (start, text, is an added token)
        last = 0
        for match in self._split.finditer(text):
            if match.start() > last:
                pieces.append((last, text[last:match.start()], False))
            pieces.append((match.start(), match.group(), True))
            last = match.end()
        if last < len(text):
            pieces.append((last, text[last:], False))
        known = {p: self._cache.get(p) for _, p, added in pieces if not added}
        missing = [p for p, encoding in known.items() if encoding is None]
        for piece in known.keys() - missing:
            self._cache.move_to_end(piece)  # least recently used goes first: the system prompt stays
        if missing:
            for piece, encoding in zip(missing, self.backend.encode_batch(missing, add_special_tokens=False),
                                       strict=True):
                known[piece] = encoding
                self._remember(piece, encoding)
        ids: list[int] = []
        starts: list[int] = []
        tokens: list[int] = []
        encodings: list[Any] = []
        for start, piece, added in pieces:
            starts.append(start)
            tokens.append(len(ids))
            if added:
                ids.append(self._added[piece])
                encodings.append(None)
            else:
                encoding = known[piece]
                ids.extend(encoding.ids)
                encodings.append(encoding)
        return Encoded(ids, starts, tokens, encodings, len(text))

    def _remember(self, piece: str, encoding: Any) -> None:
        while self._cache and self._cached_tokens + len(encoding) > _PIECE_CACHE_TOKENS:
            self._cached_tokens -= len(self._cache.popitem(last=False)[1])  # flat memory over long exports
        self._cache[piece] = encoding
        self._cached_tokens += len(encoding)


def assistant_mask(encoded: Encoded, spans: list[tuple[int, int]]) -> list[int]:
    """transformers' `return_assistant_tokens_mask`, quirks included (an end at token 0 runs to the end)."""
    mask = [0] * len(encoded.ids)
    for start_char, end_char in spans:
        start = encoded.char_to_token(start_char)
        end = encoded.char_to_token(end_char - 1)
        if start is None:
            break
        for index in range(start, end + 1 if end else len(mask)):
            mask[index] = 1
    return mask


def load_backend(directory: Path) -> Any:
    """The bare `tokenizers.Tokenizer`, set up as transformers leaves it (no truncation, no padding,
    special tokens matched)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(directory / "tokenizer.json"))
    backend.no_truncation()
    backend.no_padding()
    backend.encode_special_tokens = False
    return backend

