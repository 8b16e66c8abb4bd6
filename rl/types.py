"""Typed records of one rollout: what to run (RolloutSpec) and what came out (RolloutResult).

Token conventions (the trainer converts to its own): `mask` is 1 on tokens the model sampled and
0 on everything else (prompt, tool results, template markup); `logprobs` has one entry per token,
the sampled token's logprob where mask is 1 and 0.0 elsewhere, or is None when the backend gave none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Kinds of tracked sequences: the policy's own turns, or a context-compression summary call
# (tagged so it never silently joins training data; compression is off by default in rollouts).
POLICY = "policy"
SUMMARY = "summary"


@dataclass
class GenerateOutput:
    """What a backend returns for one prompt: the sampled ids, their logprobs (or None), why it stopped."""

    ids: list[int]
    logprobs: list[float] | None
    finish_reason: str  # "stop" (end of turn or stop string) or "length" (max tokens)


@dataclass
class CallTokens:
    """One model call through the proxy: the full prompt ids it was given and what it sampled."""

    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float] | None
    finish_reason: str
    sequence: int  # index into RolloutResult.sequences
    kind: str = POLICY


@dataclass
class TokenSequence:
    """One training sequence: the first prompt, then every sampled turn and the context between.

    A rollout is one sequence while each prompt extends the previous one; a history rewrite
    (compression, an edited template) starts another."""

    tokens: list[int]
    mask: list[int]
    logprobs: list[float] | None
    prompt_len: int  # tokens of the first prompt (verl's prompt_ids; the rest is its response)
    text: str = ""  # the decoded/rendered text the tokens stand for (prefix matching uses it)
    kind: str = POLICY
    calls: int = 0
    finish_reason: str | None = None  # of its last call

    @property
    def trained_tokens(self) -> int:
        return sum(self.mask)


@dataclass
class RolloutSpec:
    """One rollout: a prompt (or messages) for hermes' own agent, its tools and sandbox, its sampling.

    `sampling` goes to the model as request parameters (temperature, top_p, max_tokens, seed, stop,
    ...); through the proxy it reaches the generate backend. `workdir`: the rollout's own start
    directory (None: a fresh temporary one, removed afterwards). `compression`: False keeps hermes'
    automatic context compression off, so no summary call or history rewrite enters the tokens."""

    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    model: str = "policy"
    system_prompt: str | None = None
    toolsets: list[str] = field(default_factory=lambda: ["terminal"])
    max_turns: int = 30
    sampling: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    workdir: Path | None = None
    terminal_backend: str | None = None  # None: the configured one (terminal.backend)
    approval_mode: str | None = None  # None: the configured one
    compression: bool = False
    context_window: int | None = None
    stream: bool = True
    log_dir: Path | None = None
    record: bool = True
    base_url: str | None = None  # without a proxy: an endpoint that returns token ids (vLLM return_token_ids)
    api_key: str = "rl"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("RolloutSpec needs exactly one of prompt= or messages=")
        if self.messages is not None and (not self.messages or self.messages[-1].get("role") != "user"):
            raise ValueError("RolloutSpec(messages=...) must end with the user message to answer")


@dataclass
class RolloutResult:
    """What one rollout produced; `reward` is the verifier's, None without one."""

    task_id: str
    status: str  # the agent's: success, max_turns, loop_detected, error, interrupted
    final_response: str | None
    messages: list[dict[str, Any]]
    sequences: list[TokenSequence]
    calls: list[CallTokens]
    reward: float | None = None
    error: str | None = None
    session_id: str | None = None
    # "proxy" (the sampled ids), "server" (ids the endpoint returned, from the session log),
    # "local_render"/"retokenized"/"mixed" (rebuilt from text: approximate) or "none"
    token_source: str = "proxy"
    compressed: bool = False  # the history was compressed (its summary sequences are tagged SUMMARY)
    # the first policy prompt the proxy rendered, even when its generation failed (None: no call got there)
    first_prompt_ids: list[int] | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def finish_reason(self) -> str | None:
        """The last model call's finish reason ("stop", "length", "tool_calls")."""
        return self.calls[-1].finish_reason if self.calls else None

    @property
    def policy_sequences(self) -> list[TokenSequence]:
        return [s for s in self.sequences if s.kind == POLICY]
