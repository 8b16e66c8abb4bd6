"""Token-level RL samples from a session log (formats.md §5.5, §9).

Each model call contributes a prompt and a completion, taken from the best source available:

  server        prompt and completion ids exactly as the endpoint returned them
  local_render  completion ids (and logprobs) from the endpoint; the prompt rendered here with the
                tokenizer's chat template, because the server sent no prompt ids or they spell text
                that must never be exported (an ephemeral system prompt, a redacted secret).
                llama-cpp-python sends no ids, only each sampled token's text in its logprobs:
                when every piece is exactly one token of the export's tokenizer, those are the ids
  retokenized   no usable completion ids: the assistant turn rendered from the text, with no
                logprobs (an approximation of what the model sampled)

Each call is rendered from the request it answered (recording/requests.py): the system prompt and
tools in force then, and the history as it was, so calls made before a compaction or before a
`/prompt` or `/toolsets` change are exported as they were sent (in samples of their own where the
prompt no longer extends the previous sequence). A call is left out only when it cannot be a
sample, and `calls_left_out` (a JSON text, so the column has one type in every file) lists it
with the reason: no reply in the log, or a reply the user undid.

Calls are merged into one sequence while each prompt starts with everything before it (prompt +
completion of the previous call); otherwise a new sample starts, so a template that rewrites history
yields one sample per call instead of a wrong merge. Loss mask 1 covers completion tokens only,
plus an end-of-turn token the next prompt adds right after a completion that stopped normally;
a truncated (`finish_reason == "length"`) turn never gets an end token it did not sample.
`logprobs` is one float per token: the server's where trained and known, else 1.0 (NO_LOGPROB,
impossible for a logprob), never null, so `datasets` types the column alike in every file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exports.source import Trajectory
from exports.textcalls import is_text_response
from exports.tokenizer import ChatTokenizer, template_messages
from recording.redact import REDACTED
from recording.requests import CallView, RequestContext

NO_LOGPROB = 1.0  # an impossible logprob (Atropos' marker): no logprob at this position
SOURCE_ORDER = ("server", "local_render", "retokenized")  # best first; a sample reports its worst


class RolloutError(Exception):
    """This session cannot be turned into token samples with this tokenizer."""


@dataclass
class CallTokens:
    number: int  # the call's number in the session log
    message_index: int  # the assistant message it produced (index into `conv`)
    prompt: list[int]
    completion: list[int]
    logprobs: list[float | None] | None  # aligned with `completion`
    source: str
    finish_reason: str | None
    conv: list[dict[str, Any]] = field(default_factory=list)  # the history the indices refer to

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Sample:
    tokens: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    logprobs: list[float | None] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    calls: list[CallTokens] = field(default_factory=list)
    prompt_len: int = 0

    def add(self, ids: list[int], *, trained: bool, logprobs: list[float | None] | None = None) -> None:
        self.tokens.extend(ids)
        self.mask.extend([1 if trained else 0] * len(ids))
        self.logprobs.extend(logprobs if logprobs is not None else [None] * len(ids))

    def span(self, role: str, start: int, messages: tuple[int, int], call: int | None = None) -> None:
        if len(self.tokens) > start:
            self.spans.append({"role": role, "start": start, "end": len(self.tokens),
                               "messages": list(messages), "call": call})

    def add_call(self, call: CallTokens) -> None:
        start = len(self.tokens)
        self.add(call.completion, trained=True, logprobs=call.logprobs)
        self.calls.append(call)
        self.span("assistant", start, (call.message_index, call.message_index + 1), call.number)


def ids_of_pieces(tok: ChatTokenizer, entries: Any) -> list[int] | None:
    """Completion ids spelled by the server's logprob entries (llama-cpp-python sends each sampled
    token's text but no ids): each piece must be exactly one token of this tokenizer, else None
    (a piece left empty by a split UTF-8 character, or one that is no single token, cannot be
    told apart from other ids, so the call is retokenized instead)."""
    if not isinstance(entries, list) or not entries:
        return None
    ids = []
    for entry in entries:
        piece = entry.get("token") if isinstance(entry, dict) else None
        if not isinstance(piece, str) or not piece:
            return None
        found = tok.encode(piece)
        if len(found) != 1 or tok.decode(found) != piece:
            return None
        ids.append(found[0])
    return ids


def _aligned_logprobs(entries: Any, length: int) -> list[float | None] | None:
    """Server logprobs, if there is exactly one per completion token."""
    if not isinstance(entries, list) or len(entries) != length or not entries:
        return None
    values = [e.get("logprob") if isinstance(e, dict) else None for e in entries]
    return [float(v) if isinstance(v, (int, float)) else None for v in values]


def _context_role(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return "template"
    if all(m.get("role") == "tool" or is_text_response(m) for m in messages):
        return "tool"
    if all(m.get("role") == "user" for m in messages):
        return "user"
    return "mixed"


class _Renderer:
    """Chat-template renders of the conversation's prefixes, each computed at most once."""

    def __init__(self, tokenizer: ChatTokenizer, context: RequestContext, messages: list[dict[str, Any]]) -> None:
        self.tok = tokenizer
        self.tools = context.tool_list
        system = {"role": "system", "content": context.system_prompt}
        self.conv = template_messages([system, *messages])
        self._cache: dict[tuple[int, bool], tuple[list[int], list[int] | None]] = {}

    def prompt(self, message_index: int, *, from_reply: bool = False) -> list[int]:
        """What a server rendered for the call that produced message `message_index`.

        `from_reply`: the caller renders the reply anyway (`through`), so try to read the prompt
        off that render instead of encoding the conversation once more (see _prompt_in_reply)."""
        key = (1 + message_index, True)
        if key not in self._cache and from_reply and (ids := self._prompt_in_reply(message_index)) is not None:
            self._cache[key] = (ids, None)
        return self._render(*key)[0]

    def _prompt_in_reply(self, message_index: int) -> list[int] | None:
        """The reply's render up to its assistant span, if that is exactly the prompt's text.

        Accepted only for BPE tokenizers: there, tokens that end exactly where a text ends are
        the tokens of that text alone (a merge never crosses a token boundary it did not make),
        so this equals encoding the prompt. Otherwise, or if the texts differ, None."""
        if not self.tok.is_bpe:
            return None
        ids, mask = self.through(message_index)
        if not mask or 1 not in mask:
            return None
        end = len(mask) - mask[::-1].index(1)
        start = end
        while start > 0 and mask[start - 1]:
            start -= 1
        candidate = ids[:start]
        if self.tok.light and self._render(1 + message_index, True)[0] == candidate:
            # Rendering the prompt costs little here: when it gives the same ids, the answer is the
            # same whatever the check below would say, and that check decodes the whole prompt.
            return candidate
        text = self.tok.render_text(self.conv[: 1 + message_index], self.tools, add_generation_prompt=True)
        return candidate if self.tok.decode(candidate) == text else None

    def through(self, message_index: int) -> tuple[list[int], list[int] | None]:
        """The conversation up to and including message `message_index`, with the assistant mask."""
        return self._render(2 + message_index, False)

    def _render(self, count: int, generation: bool) -> tuple[list[int], list[int] | None]:
        key = (count, generation)
        if key not in self._cache:
            self._cache[key] = self.tok.render(self.conv[:count], self.tools, add_generation_prompt=generation,
                                               assistant_mask=not generation)
        return self._cache[key]


class RolloutBuilder:
    def __init__(self, tokenizer: ChatTokenizer, *, merge: bool = True,
                 redact: Callable[[str], str] | None = None) -> None:
        self.tok = tokenizer
        self.merge = merge
        self.redact = redact  # last check: a sample whose decoded text it would change is refused

    # -- per call ---------------------------------------------------------------------------------
    def call_tokens(self, trajectory: Trajectory) -> tuple[list[CallTokens], list[dict[str, Any]]]:
        """Each call's prompt and completion ids, and the calls left out with the reason."""
        renderers: dict[int, _Renderer] = {}  # id(context) -> renderer of the final history
        out: list[CallTokens] = []
        left_out: list[dict[str, Any]] = []
        for view in trajectory.calls:
            reason = _left_out_reason(view)
            if reason is not None:
                left_out.append({"call": view.number, "reason": reason})
                continue
            call = view.event
            index = trajectory.final_index(view)
            own = index is None  # the history was rewritten since: render this call's own request
            if own:
                conv, index = [*view.messages, view.reply], len(view.messages)
            else:
                conv = trajectory.messages
            finish = call.get("finish_reason")
            prompt = trajectory.server_prompt_ids(call) if not trajectory.view_redacted(view) else None
            completion = trajectory.server_completion_ids_of(call, view.reply)
            if completion is None and view.reply is not None and call.get("completion_token_ids") is None \
                    and REDACTED not in json.dumps(view.reply, ensure_ascii=False):
                completion = ids_of_pieces(self.tok, call.get("logprobs"))
            logprobs = _aligned_logprobs(call.get("logprobs"), len(completion)) if completion is not None else None
            if prompt is not None and completion is not None:
                out.append(CallTokens(view.number, index, prompt, completion, logprobs, "server", finish, conv))
                continue
            renderer = self._renderer(renderers, view, conv, own)
            if completion is not None:
                prompt = prompt if prompt is not None else renderer.prompt(index)
                out.append(CallTokens(view.number, index, prompt, completion, logprobs, "local_render", finish, conv))
            else:
                prompt = prompt if prompt is not None else renderer.prompt(index, from_reply=True)
                completion = self._assistant_tokens(renderer, index, prompt, finish == "length")
                out.append(CallTokens(view.number, index, prompt, completion, None, "retokenized", finish, conv))
        return out, left_out

    def _renderer(self, cache: dict[int, _Renderer], view: CallView, conv: list[dict[str, Any]],
                  own: bool) -> _Renderer:
        """One renderer per context over the final history (its prefix renders are shared by the
        calls); a call whose history was rewritten since gets one of its own."""
        if own:
            return _Renderer(self.tok, view.context, conv)
        key = id(view.context)
        if key not in cache:
            cache[key] = _Renderer(self.tok, view.context, conv)
        return cache[key]

    def _assistant_tokens(self, renderer: _Renderer, index: int, prompt: list[int], truncated: bool) -> list[int]:
        full, mask = renderer.through(index)
        if mask is not None and any(mask):
            end = len(mask) - mask[::-1].index(1)
            start = end
            while start > 0 and mask[start - 1]:
                start -= 1
            tokens = full[start:end]
        elif full[: len(prompt)] == prompt:
            tokens = full[len(prompt):]
            cut = next((i for i, t in enumerate(tokens) if t in self.tok.eot_ids), None)
            if cut is not None:
                tokens = tokens[: cut + 1]  # the turn ends at its end-of-turn token; what follows is glue
        else:
            raise RolloutError("the chat template is not prefix-stable and has no {% generation %} markers, "
                               "so the assistant tokens cannot be located")
        if truncated and tokens and tokens[-1] in self.tok.eot_ids:
            tokens = tokens[:-1]  # the template closes the turn; the model never sampled that token
        return tokens

    # -- merging ----------------------------------------------------------------------------------
    def samples(self, calls: list[CallTokens]) -> list[Sample]:
        out: list[Sample] = []
        current: Sample | None = None
        eot = self.tok.eot_ids
        for call in calls:
            if current is not None and self.merge and _extends(call.prompt, current.tokens):
                last = current.calls[-1]
                suffix = call.prompt[len(current.tokens):]
                if suffix and suffix[0] in eot and not last.truncated and not (last.completion and last.completion[-1] in eot):
                    # The server stripped the end-of-turn token the model stopped on; the next
                    # prompt carries it. It is the assistant's, so it is trained (no logprob known).
                    current.add(suffix[:1], trained=True)
                    current.spans[-1]["end"] += 1
                    suffix = suffix[1:]
                start = len(current.tokens)
                current.add(suffix, trained=False)
                between = (last.message_index + 1, call.message_index)
                current.span(_context_role(call.conv[between[0]:between[1]]), start, between)
            else:
                if current is not None:
                    out.append(current)
                current = Sample()
                current.add(call.prompt, trained=False)
                current.prompt_len = len(call.prompt)
                current.span("prompt", 0, (0, call.message_index))
            current.add_call(call)
        if current is not None:
            out.append(current)
        return out

    # -- records ----------------------------------------------------------------------------------
    def records(self, trajectory: Trajectory, reward: float | None = None) -> list[dict[str, Any]]:
        calls, left_out = self.call_tokens(trajectory)
        samples = self.samples(calls)
        left_out_text = json.dumps(left_out, ensure_ascii=False)
        described = self.tok.describe()
        records = []
        for number, sample in enumerate(samples):
            if sample.tokens and max(sample.tokens) >= self.tok.vocab_size:
                raise RolloutError(f"token id {max(sample.tokens)} is outside the vocabulary of tokenizer "
                                   f"{self.tok.name!r} ({self.tok.vocab_size} tokens): is it the model's tokenizer?")
            if self.redact is not None:
                text = self.tok.decode(sample.tokens)
                if self.redact(text) != text:
                    raise RolloutError("its token ids spell a secret (a key pattern or a secret set in this "
                                       "environment); not exported")
            records.append({
                "session_id": trajectory.session_id,
                "sample": number,
                "calls": [c.number for c in sample.calls],
                "model": trajectory.model,
                "tokens": sample.tokens,
                "loss_mask": sample.mask,
                # always a list of floats (one type in every file): NO_LOGPROB where masked or unknown
                "logprobs": [lp if (m and lp is not None) else NO_LOGPROB
                             for lp, m in zip(sample.logprobs, sample.mask, strict=True)],
                "turn_spans": sample.spans,
                "prompt_len": sample.prompt_len,
                "finish_reason": sample.calls[-1].finish_reason,
                "truncated": any(c.truncated for c in sample.calls),
                "token_source": max((c.source for c in sample.calls), key=SOURCE_ORDER.index),
                **described,
                "reward": reward,
                "completed": trajectory.completed,
                "calls_left_out": left_out_text,
            })
        return records


def _left_out_reason(view: CallView) -> str | None:
    if view.reply is None:
        return "no reply in the log (the run was cut off or the reply was not recorded)"
    if view.reply_undone:
        return "the user undid or retried this reply"
    return None


def _extends(prompt: list[int], sequence: list[int]) -> bool:
    return len(prompt) >= len(sequence) and prompt[: len(sequence)] == sequence
