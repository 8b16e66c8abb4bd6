"""Token tracking for one rollout's model calls: ManagedServer's text-prefix algorithm, standalone.

Each request's messages are rendered with the policy's chat template (once, to text). When that
text starts with a tracked sequence's text, the sequence's tokens are kept as they are and only the
new suffix is tokenized: what the model sampled is never re-tokenized (sampled ids need not be the
canonical encoding of their text). Assistant turns come back from the client with their raw text
restored (by tool-call id), so the next prompt holds exactly what the model produced. The end-of-turn
token the model sampled is trained but never handed back as text (it would be doubled in every
later prompt).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl.types import POLICY, SUMMARY, CallTokens, GenerateOutput, TokenSequence


def load_chat_tokenizer(tokenizer: Any) -> Any:
    """An exports.tokenizer.ChatTokenizer from one, a local directory / hub name, or a HF tokenizer object."""
    from exports.tokenizer import ChatTokenizer, _eot_ids, load_tokenizer

    if isinstance(tokenizer, ChatTokenizer):
        return tokenizer
    if isinstance(tokenizer, (str, Path)):
        return load_tokenizer(str(tokenizer))
    if hasattr(tokenizer, "apply_chat_template"):
        return ChatTokenizer(name=getattr(tokenizer, "name_or_path", "") or "tokenizer", hf=tokenizer,
                             chat_template=getattr(tokenizer, "chat_template", None), eot_ids=_eot_ids(tokenizer))
    raise TypeError(f"tokenizer: expected a ChatTokenizer, a directory or a HF tokenizer, got {type(tokenizer).__name__}")


@dataclass
class Prepared:
    """A request rendered and tokenized, ready for the backend."""

    prompt_ids: list[int]
    prompt_text: str
    sequence: int | None  # the tracked sequence this prompt extends, None for a new one
    kind: str
    tools: list[dict[str, Any]] | None


@dataclass
class Reply:
    """What the client gets back for one call (OpenAI message fields)."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    completion_ids: list[int]
    logprobs: list[float] | None
    prompt_ids: list[int]
    raw_text: str


@dataclass
class RolloutTrack:
    """Everything tracked for one rollout (one URL / key of the proxy)."""

    rollout_id: str
    sequences: list[TokenSequence] = field(default_factory=list)
    calls: list[CallTokens] = field(default_factory=list)
    raw_by_call_id: dict[str, str] = field(default_factory=dict)
    first_prompt_ids: list[int] | None = None  # set before the first policy call's generation
    closed: bool = False  # ended (taken or finished): a call that waited for the lock is refused
    lock: threading.Lock = field(default_factory=threading.Lock)


class TokenTracker:
    """Renders prompts for the backend and records what it sampled, per rollout.

    `tool_calls`: "structured" parses Hermes `<tool_call>` JSON (and hermes' other text formats)
    from the raw text into OpenAI `tool_calls`; "text" hands the raw text back as content."""

    def __init__(self, tokenizer: Any, *, tool_calls: str = "structured") -> None:
        if tool_calls not in ("structured", "text"):
            raise ValueError("tool_calls must be 'structured' or 'text'")
        self.tokenizer = load_chat_tokenizer(tokenizer)
        if not self.tokenizer.chat_template:
            raise ValueError(f"tokenizer {self.tokenizer.name!r} has no chat template")
        self.tool_calls = tool_calls
        self.eot_ids = frozenset(self.tokenizer.eot_ids)
        # transformers' fast tokenizers reconfigure their Rust backend per call ("Already borrowed"
        # when two threads meet there); rendering and encoding are short next to generation.
        self._tok_lock = threading.Lock()

    # -- before the backend -------------------------------------------------------------------------
    def prepare(self, track: RolloutTrack, messages: list[dict[str, Any]],
                tools: list[dict[str, Any]] | None) -> Prepared:
        from exports.tokenizer import template_messages

        kind = SUMMARY if _is_summary_request(messages) else POLICY
        restored = [self._restore(track, m) for m in messages]
        with self._tok_lock:
            text = self.tokenizer.render_text(template_messages(restored), tools or None, add_generation_prompt=True)
        best: int | None = None
        for index, seq in enumerate(track.sequences):
            if seq.kind == kind and text.startswith(seq.text) and (
                    best is None or len(seq.text) > len(track.sequences[best].text)):
                best = index
        seq = track.sequences[best] if best is not None else None
        with self._tok_lock:
            new = self.tokenizer.encode(text[len(seq.text):] if seq is not None else text)
        return Prepared((seq.tokens if seq is not None else []) + new, text, best, kind, tools)

    @staticmethod
    def _restore(track: RolloutTrack, message: dict[str, Any]) -> dict[str, Any]:
        """An assistant turn this proxy produced, as the model wrote it (raw text, no parsed calls)."""
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            return message
        first = (message["tool_calls"][0] or {}).get("id")
        raw = track.raw_by_call_id.get(first) if isinstance(first, str) else None
        return message if raw is None else {"role": "assistant", "content": raw}

    # -- after the backend --------------------------------------------------------------------------
    def record(self, track: RolloutTrack, prepared: Prepared, output: GenerateOutput) -> Reply:
        ids = list(output.ids)
        ended = bool(ids) and ids[-1] in self.eot_ids
        body = ids[:-1] if ended else ids
        with self._tok_lock:
            raw = self.tokenizer.decode(body) if body else ""
            eos_text = self.tokenizer.decode(ids[-1:]) if ended else ""
        added = len(prepared.prompt_ids)
        if prepared.sequence is None:
            seq = TokenSequence(tokens=[], mask=[], logprobs=[], prompt_len=len(prepared.prompt_ids), kind=prepared.kind)
            track.sequences.append(seq)
            index = len(track.sequences) - 1
        else:
            index = prepared.sequence
            seq = track.sequences[index]
            added = len(prepared.prompt_ids) - len(seq.tokens)
        seq.tokens = prepared.prompt_ids + ids
        seq.mask = seq.mask + [0] * added + [1] * len(ids)
        if seq.logprobs is not None and output.logprobs is not None:
            seq.logprobs = seq.logprobs + [0.0] * added + list(output.logprobs)
        else:
            seq.logprobs = None  # one call without logprobs: the sequence has none (no fillers)
        seq.text = prepared.prompt_text + raw + eos_text
        seq.calls += 1
        seq.finish_reason = output.finish_reason
        track.calls.append(CallTokens(list(prepared.prompt_ids), ids, None if output.logprobs is None else
                                      list(output.logprobs), output.finish_reason, index, prepared.kind))
        content, calls = self._split_calls(raw, prepared.tools)
        for call in calls[:1]:
            track.raw_by_call_id[call["id"]] = raw
        finish = "length" if output.finish_reason == "length" else ("tool_calls" if calls else "stop")
        return Reply(content, calls, finish, ids, output.logprobs, list(prepared.prompt_ids), raw)

    def _split_calls(self, raw: str, tools: list[dict[str, Any]] | None) -> tuple[str | None, list[dict[str, Any]]]:
        if self.tool_calls == "text" or not tools:
            return raw, []
        from agent.tool_calls import marker_offset, parse_text_tool_calls

        schemas = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools if t.get("function")}
        calls, errors = parse_text_tool_calls(raw, schemas)
        if not calls or errors:  # unreadable calls stay text: hermes reports them to the model itself
            return raw, []
        out = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}} for c in calls]
        return raw[:marker_offset(raw)].strip() or None, out


def _is_summary_request(messages: list[dict[str, Any]]) -> bool:
    """hermes' context-compression call (agent/compression.summarise), told by its instructions."""
    from agent.compression import SUMMARY_INSTRUCTIONS

    first = messages[0] if messages else {}
    return first.get("role") == "system" and first.get("content") == SUMMARY_INSTRUCTIONS
