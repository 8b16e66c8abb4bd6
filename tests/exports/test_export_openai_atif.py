"""`--format openai` (fine-tuning chat records) and `--format atif` (ATIF-v1.5, strict)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scripted_server import ToolCall
from tests.conftest import run_hermes
from tests.exports.toolkit import TOOLS, record_session, reply, small_session, tool_session_replies, write_log


# -- OpenAI fine-tuning format (formats.md §6.1) ---------------------------------------------------
def test_openai_record_has_tools_string_arguments_and_weights(tmp_path):
    log = small_session(tmp_path / "session_20261121_100000_abc123.jsonl")
    result = run_hermes("export", str(log), "--format", "openai")
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record == {
        "messages": [
            {"role": "system", "content": "You are a helpful terminal agent."},
            {"role": "user", "content": "What Python version is installed?"},
            {"role": "assistant", "weight": 1, "tool_calls": [
                {"id": "call_abc123", "type": "function",
                 "function": {"name": "terminal", "arguments": "{\"command\": \"python3 --version\"}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123",
             "content": "{\"output\": \"Python 3.11.6\\n\", \"exit_code\": 0, \"error\": null}"},
            {"role": "assistant", "content": "Python 3.11.6 is installed on this system ✓", "weight": 1},
        ],
        "tools": TOOLS,
        "compaction": "none",
    }
    assert isinstance(record["messages"][2]["tool_calls"][0]["function"]["arguments"], str)


def test_openai_weights_truncated_turns_and_train_on_last(tmp_path):
    log = write_log(tmp_path / "session_20261121_130000_bbbbbb.jsonl", [
        {"type": "session_start", "session_id": "20261121_130000_bbbbbb", "model": "m", "tools": [],
         "system_prompt": "sys"},
        {"type": "message", "message": {"role": "user", "content": "write a long poem"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "length"},
        {"type": "message", "message": {"role": "assistant", "content": "Roses are red, violets"}},
        {"type": "message", "message": {"role": "user", "content": "shorter"}},
        {"type": "llm_call", "call": 2, "prompt_messages": 3, "finish_reason": "stop"},
        {"type": "message", "message": {"role": "assistant", "content": "Red."}},
        {"type": "message", "message": {"role": "user", "content": "again"}},
        {"type": "llm_call", "call": 3, "prompt_messages": 5, "finish_reason": "stop"},
        {"type": "message", "message": {"role": "assistant", "content": "Blue."}},
        {"type": "run_end", "status": "success"},
    ])
    weights = [m.get("weight") for m in run_hermes("export", str(log), "--format", "openai").json()["messages"]
               if m["role"] == "assistant"]
    assert weights == [0, 1, 1]  # a turn cut by the token limit is not trained on
    last = run_hermes("export", str(log), "--format", "openai", "--train-on", "last").json()["messages"]
    assert [m.get("weight") for m in last if m["role"] == "assistant"] == [0, 0, 1]


# -- ATIF-v1.5: a strict model written from formats.md §2.2 (independent of exports/atif_schema.py) --
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ToolCallV15(_Strict):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any]


class ResultV15(_Strict):
    source_call_id: str | None = None
    content: str | None = None
    subagent_trajectory_ref: list[dict[str, Any]] | None = None


class ObservationV15(_Strict):
    results: list[ResultV15]


class MetricsV15(_Strict):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    prompt_token_ids: list[int] | None = None
    completion_token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    extra: dict[str, Any] | None = None


class StepV15(_Strict):
    step_id: int = Field(ge=1)
    timestamp: str | None = None
    source: Literal["system", "user", "agent"]
    model_name: str | None = None
    reasoning_effort: str | float | None = None
    message: str
    reasoning_content: str | None = None
    tool_calls: list[ToolCallV15] | None = None
    observation: ObservationV15 | None = None
    metrics: MetricsV15 | None = None
    is_copied_context: bool | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _rules(self) -> StepV15:
        if self.timestamp is not None:
            datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
        if self.source != "agent":
            for name in ("model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics"):
                assert getattr(self, name) is None, f"{name} on a {self.source} step"
        ids = [c.tool_call_id for c in self.tool_calls or []]
        assert len(ids) == len(set(ids)), "duplicate tool_call_id"
        for result in self.observation.results if self.observation else []:
            assert result.source_call_id is None or result.source_call_id in ids, "dangling source_call_id"
        if self.metrics and self.metrics.logprobs is not None:
            assert len(self.metrics.logprobs) == len(self.metrics.completion_token_ids or []), "unaligned logprobs"
        return self


class AgentV15(_Strict):
    name: str
    version: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None


class FinalMetricsV15(_Strict):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_cost_usd: float | None = None
    total_steps: int | None = None
    extra: dict[str, Any] | None = None


class TrajectoryV15(_Strict):
    schema_version: Literal["ATIF-v1.5"]
    session_id: str
    agent: AgentV15
    steps: list[StepV15] = Field(min_length=1)
    notes: str | None = None
    final_metrics: FinalMetricsV15 | None = None
    continued_trajectory_ref: str | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _ids(self) -> TrajectoryV15:
        assert [s.step_id for s in self.steps] == list(range(1, len(self.steps) + 1)), "step ids must run 1..n"
        return self


def atif_docs(*paths) -> list[dict[str, Any]]:
    result = run_hermes("export", *map(str, paths), "--format", "atif")
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    for doc in docs:
        TrajectoryV15.model_validate(doc)
    return docs


def test_atif_document_validates_strictly_and_maps_the_session(tmp_path):
    (doc,) = atif_docs(small_session(tmp_path / "session_20261121_100000_abc123.jsonl"))
    assert doc["schema_version"] == "ATIF-v1.5" and doc["session_id"] == "20261121_100000_abc123"
    assert doc["agent"]["name"] == "hermes" and doc["agent"]["model_name"] == "nous/hermes-test"
    assert doc["agent"]["tool_definitions"] == TOOLS
    steps = doc["steps"]
    assert [(s["step_id"], s["source"]) for s in steps] == [(1, "system"), (2, "user"), (3, "agent"), (4, "agent")]
    assert steps[0]["message"] == "You are a helpful terminal agent."
    assert steps[2]["reasoning_content"] == "I should run python3 --version." and steps[2]["message"] == ""
    assert steps[2]["tool_calls"] == [{"tool_call_id": "call_abc123", "function_name": "terminal",
                                       "arguments": {"command": "python3 --version"}}]
    assert steps[2]["observation"] == {"results": [{"source_call_id": "call_abc123", "content":
                                                    "{\"output\": \"Python 3.11.6\\n\", \"exit_code\": 0, \"error\": null}"}]}
    assert steps[2]["metrics"]["prompt_tokens"] == 412 and steps[3]["metrics"]["completion_tokens"] == 7
    assert doc["final_metrics"]["total_prompt_tokens"] == 852 and doc["final_metrics"]["total_steps"] == 4


def test_atif_carries_server_token_ids_and_aligned_logprobs(scripted_llm, log_dir, vllm):
    llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
    log = record_session(llm, "What is 6*7?", log_dir, token_capture=True)
    (doc,) = atif_docs(log)
    agent_steps = [s for s in doc["steps"] if s["source"] == "agent"]
    assert len(agent_steps) == len(vllm.calls) == 2
    for step, served in zip(agent_steps, vllm.calls, strict=True):
        metrics = step["metrics"]
        assert metrics["prompt_token_ids"] == served["prompt"]
        assert metrics["completion_token_ids"] == served["completion"]
        assert len(metrics["logprobs"]) == len(served["completion"])
        assert metrics["extra"]["token_source"] == "server"


def test_atif_text_mode_tool_calls_become_structured_steps(scripted_llm, log_dir):
    text = '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo 42"}}\n</tool_call>'
    log = record_session(scripted_llm([reply(text), reply("It is 42.")]), "6*7?", log_dir)
    (doc,) = atif_docs(log)
    step = next(s for s in doc["steps"] if s.get("tool_calls"))
    assert step["tool_calls"][0]["function_name"] == "terminal"
    (result,) = step["observation"]["results"]
    assert result["source_call_id"] == step["tool_calls"][0]["tool_call_id"] and "42" in result["content"]


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d.update(unexpected=1), "extra field at the root"),
    (lambda d: d["steps"][1].update(step_id=5), "step ids not 1..n"),
    (lambda d: d["steps"][1].update(model_name="m"), "agent-only field on a user step"),
    (lambda d: d["steps"][2]["tool_calls"][0].update(extra={"x": 1}), "ToolCall.extra is v1.7"),
    (lambda d: d["steps"][2]["observation"]["results"][0].update(source_call_id="nope"), "dangling result"),
    (lambda d: d.update(schema_version="ATIF-v1.9"), "unknown version"),
    (lambda d: d["steps"][2]["metrics"].update(completion_token_ids=[1, 2], logprobs=[-0.1]), "unaligned logprobs"),
])
def test_the_exporters_own_schema_rejects_what_harbor_rejects(tmp_path, mutate, problem):
    from exports import atif_schema
    from exports.atif import to_document
    from exports.source import load_trajectory

    doc = to_document(load_trajectory(small_session(tmp_path / "session_20261121_100000_abc123.jsonl")))
    atif_schema.validate(doc)
    mutate(doc)
    with pytest.raises(ValidationError):
        atif_schema.validate(doc)


def test_session_with_tool_call_parallel_results_keeps_ids_unique(scripted_llm, log_dir):
    calls = [ToolCall("terminal", {"command": "echo a"}, id="call_a"), ToolCall("terminal", {"command": "echo b"},
                                                                                  id="call_b")]
    log = record_session(scripted_llm([reply(calls=calls), reply("done")]), "two things", log_dir)
    (doc,) = atif_docs(log)
    step = next(s for s in doc["steps"] if s.get("tool_calls"))
    assert [r["source_call_id"] for r in step["observation"]["results"]] == ["call_a", "call_b"]


def test_messages_format_ends_a_record_before_a_truncated_turn(tmp_path):
    """TRL ignores `weight` and its template closes every turn: a cut turn would train a stop."""
    from tests.exports.toolkit import export

    log = write_log(tmp_path / "session_20261121_130000_dddddd.jsonl", [
        {"type": "session_start", "session_id": "20261121_130000_dddddd", "model": "m", "tools": [],
         "system_prompt": "sys"},
        {"type": "message", "message": {"role": "user", "content": "hi"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop"},
        {"type": "message", "message": {"role": "assistant", "content": "Hello."}},
        {"type": "message", "message": {"role": "user", "content": "write a long poem"}},
        {"type": "llm_call", "call": 2, "prompt_messages": 3, "finish_reason": "length"},
        {"type": "message", "message": {"role": "assistant", "content": "Roses are red, violets"}},
    ])
    (row,) = export(log, None, tmp_path / "m.jsonl", fmt="messages")
    assert [m["content"] for m in row["messages"]] == ["sys", "hi", "Hello.", "write a long poem"]
