"""Strict ATIF-v1.5 models (Harbor's trajectory format, formats.md §2): every model forbids extra
fields, step ids must run 1..n, agent-only fields stay off system/user steps, and every
observation result points at a tool call of its own step.

    validate(document) -> Trajectory   # raises pydantic.ValidationError
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "ATIF-v1.5"
KNOWN_VERSIONS = Literal["ATIF-v1.0", "ATIF-v1.1", "ATIF-v1.2", "ATIF-v1.3", "ATIF-v1.4", "ATIF-v1.5"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ToolCall(_Strict):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any]


class SubagentTrajectoryRef(_Strict):
    session_id: str
    trajectory_path: str | None = None
    extra: dict[str, Any] | None = None


class ObservationResult(_Strict):
    source_call_id: str | None = None
    content: str | None = None
    subagent_trajectory_ref: list[SubagentTrajectoryRef] | None = None


class Observation(_Strict):
    results: list[ObservationResult]


class Metrics(_Strict):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    prompt_token_ids: list[int] | None = None
    completion_token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> Metrics:
        ids, lps = self.completion_token_ids, self.logprobs
        if ids is not None and lps is not None and len(ids) != len(lps):
            raise ValueError(f"logprobs ({len(lps)}) must align with completion_token_ids ({len(ids)})")
        return self


_AGENT_ONLY = ("model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics")


class Step(_Strict):
    step_id: int = Field(ge=1)
    timestamp: str | None = None
    source: Literal["system", "user", "agent"]
    model_name: str | None = None
    reasoning_effort: str | float | None = None
    message: str
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    observation: Observation | None = None
    metrics: Metrics | None = None
    is_copied_context: bool | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.timestamp is not None:
            datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
        if self.source != "agent":
            present = [name for name in _AGENT_ONLY if getattr(self, name) is not None]
            if present:
                raise ValueError(f"{', '.join(present)} only allowed on agent steps")
            if self.source == "user" and self.observation is not None:
                raise ValueError("observation not allowed on user steps")
        ids = [call.tool_call_id for call in self.tool_calls or []]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate tool_call_id in step {self.step_id}")
        for result in (self.observation.results if self.observation else []):
            if result.source_call_id is not None and result.source_call_id not in ids:
                raise ValueError(f"observation source_call_id {result.source_call_id!r} has no tool call in step {self.step_id}")
        return self


class Agent(_Strict):
    name: str
    version: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None


class FinalMetrics(_Strict):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_cost_usd: float | None = None
    total_steps: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None


class Trajectory(_Strict):
    schema_version: KNOWN_VERSIONS
    session_id: str
    agent: Agent
    steps: list[Step] = Field(min_length=1)
    notes: str | None = None
    final_metrics: FinalMetrics | None = None
    continued_trajectory_ref: str | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _step_ids(self) -> Trajectory:
        for index, step in enumerate(self.steps, 1):
            if step.step_id != index:
                raise ValueError(f"step_id {step.step_id} at position {index}: step ids must run 1..n")
        return self


def validate(document: dict[str, Any]) -> Trajectory:
    return Trajectory.model_validate(document)
