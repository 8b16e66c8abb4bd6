"""Session recording: the lossless event log, the ShareGPT session file, redaction."""

from __future__ import annotations

import json
import re

from recording.paths import new_session_id
from recording.sharegpt import SYSTEM_TEMPLATE, gpt_value, to_sharegpt
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl

KEY = "sk-live-abcdefghijklmnopqrstuvwxyz0123"


def run_tool_session(llm_factory, **kwargs) -> AIAgent:
    llm = llm_factory([
        Reply(reasoning="I should run it.", tool_calls=[ToolCall("terminal", {"command": "echo 42"}, id="call_1")]),
        Reply(content="The answer is 42."),
    ])
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"], **kwargs)
    agent.chat("What is 6*7?")
    agent.close()
    return agent


def test_session_id_format():
    assert re.fullmatch(r"\d{8}_\d{6}_[0-9a-f]{6}", new_session_id())


def test_event_log_is_lossless(scripted_llm, log_dir):
    agent = run_tool_session(scripted_llm)
    events = read_jsonl(log_dir / f"session_{agent.session_id}.jsonl")
    types = [e["type"] for e in events]
    assert types[0] == "session_start" and types[-1] == "session_end"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    start = events[0]
    assert start["model"] == "scripted-model" and start["tools"][0]["function"]["name"] == "terminal"
    messages = [e["message"] for e in events if e["type"] == "message"]
    assert messages == agent.messages  # exactly what was sent and received
    assert messages[1]["reasoning"] == "I should run it."
    assert messages[1]["tool_calls"][0]["function"] == {"name": "terminal", "arguments": '{"command": "echo 42"}'}
    calls = [e for e in events if e["type"] == "llm_call"]
    assert len(calls) == 2
    for call in calls:
        assert call["usage"]["prompt_tokens"] > 0 and call["latency"] >= 0
        assert call["finish_reason"] in ("tool_calls", "stop")
        assert call["params"]["stream"] is True


def test_session_file_is_the_seed_sharegpt_format(scripted_llm, log_dir):
    agent = run_tool_session(scripted_llm)
    data = json.loads((log_dir / f"session_{agent.session_id}.json").read_text(encoding="utf-8"))
    assert set(data) == {"session_id", "model", "session_start", "last_updated", "message_count", "conversations"}
    assert data["session_id"] == agent.session_id and data["message_count"] == 4
    turns = data["conversations"]
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "tool", "gpt"]
    assert turns[0]["value"].startswith("You are a function calling AI model.")
    assert '"name": "terminal"' in turns[0]["value"] and '"required": null' in turns[0]["value"]
    assert turns[2]["value"] == (
        '<think>\nI should run it.\n</think>\n<tool_call>\n{"name": "terminal", "arguments": {"command": "echo 42"}}\n</tool_call>'
    )
    tool = turns[3]["value"]
    assert tool.startswith("<tool_response>\n") and tool.endswith("\n</tool_response>")
    payload = json.loads(tool.removeprefix("<tool_response>\n").removesuffix("\n</tool_response>"))
    assert payload["tool_call_id"] == "call_1" and payload["name"] == "terminal"
    assert payload["content"]["output"].strip() == "42"
    assert turns[4]["value"] == "<think>\n</think>\nThe answer is 42."


def test_incremental_session_file_equals_full_conversion():
    tools = [{"type": "function", "function": {"name": "t", "description": "d", "parameters": {}}}]
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "t", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "t", "arguments": "{bad"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "plain text"},
        {"role": "tool", "tool_call_id": "b", "content": "[1, 2]"},
        {"role": "assistant", "content": "<REASONING_SCRATCHPAD>hm</REASONING_SCRATCHPAD>done"},
    ]
    turns = to_sharegpt(messages, tools)
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "tool", "gpt"]
    assert turns[0]["value"] == SYSTEM_TEMPLATE.format(
        tools='[{"name": "t", "description": "d", "parameters": {}, "required": null}]')
    assert '"arguments": {}' in turns[2]["value"]  # unparsable arguments become {}
    assert turns[3]["value"].count("<tool_response>") == 2 and '"content": [1, 2]' in turns[3]["value"]
    assert turns[4]["value"] == "<think>hm</think>done"
    # upstream strips the whole value, so inner leading spaces survive
    assert gpt_value({"role": "assistant", "content": "  hi  "}) == "<think>\n</think>\n  hi"


def test_secrets_never_reach_the_logs(scripted_llm, log_dir, monkeypatch):
    monkeypatch.setenv("FIRECRAWL_API_KEY", "fc-secretvalue-0123456789abcdef")
    monkeypatch.setenv("SUDO_PASSWORD", "hunter2-password")
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo fc-secretvalue-0123456789abcdef hunter2-password"})]),
        Reply(content=f"your key is {KEY}"),
    ])
    agent = AIAgent(model="m", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"])
    agent.chat("my github token is ghp_abcdefghijklmnopqrstuvwxyz012345, keep it safe")
    agent.close()
    for path in log_dir.iterdir():
        text = path.read_text(encoding="utf-8")
        for secret in (KEY, "fc-secretvalue-0123456789abcdef", "hunter2-password", "ghp_abcdefghijklmnop"):
            assert secret not in text, (path.name, secret)
        assert "[REDACTED]" in text


def test_log_dir_resolution(monkeypatch, tmp_path):
    from agent.settings import loader
    from recording import paths

    monkeypatch.setenv("HERMES_LOG_DIR", str(tmp_path / "explicit"))
    assert paths.log_dir() == tmp_path / "explicit"
    monkeypatch.delenv("HERMES_LOG_DIR")
    assert paths.log_dir() == loader.CHECKOUT_ROOT / "logs"  # a checkout logs beside the launcher
    monkeypatch.setattr(loader, "CHECKOUT_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("HERMES_HOME", str(tmp_path / "home"))
    assert paths.log_dir() == tmp_path / "home" / "logs"


def test_batch_mode_writes_the_session_file_once_per_run(tmp_path):
    from recording.recorder import SessionRecorder

    live = SessionRecorder("s_live", tmp_path, model="m", tools=[])
    batch = SessionRecorder("s_batch", tmp_path, model="m", tools=[], live_file=False)
    for recorder in (live, batch):
        recorder.record_message({"role": "user", "content": "hi"})
        recorder.record_message({"role": "assistant", "content": "hello"})
    live.flush()
    assert json.loads((tmp_path / "session_s_live.json").read_text())["message_count"] == 2
    assert not (tmp_path / "session_s_batch.json").exists()  # nothing rewritten per message
    assert len(read_jsonl(tmp_path / "session_s_batch.jsonl")) == 3  # the event log is live
    batch.flush()
    assert json.loads((tmp_path / "session_s_batch.json").read_text())["message_count"] == 2
    batch.record_message({"role": "user", "content": "more"})
    batch.close("done")
    assert json.loads((tmp_path / "session_s_batch.json").read_text())["message_count"] == 3
    live.close("done")


def test_tools_and_system_prompt_are_redacted_apart_and_land_whole_in_the_event(tmp_path):
    """The tool list and system prompt are encoded and redacted once per run and added to the end
    of their event's line: a secret in them is still redacted, and the event reads back whole."""
    from recording.recorder import SessionRecorder
    from recording.redact import Redactor

    secret = "sk-recorder-secret-0123456789abcdef"
    tools = [{"type": "function", "function": {"name": "t", "description": f"uses {secret} é",
                                               "parameters": {"type": "object", "properties": {}}}}]
    clean = [{"type": "function", "function": {"name": "u", "description": "plain", "parameters": {}}}]
    prompt = f"You are helpful. password=hunter2-long-enough and key {secret}\n\"quoted\""
    recorder = SessionRecorder("s_shared", tmp_path, model="m", tools=tools, redactor=Redactor([secret]),
                               metadata={"system_prompt": prompt, "mode": "batch"})
    assert recorder.record_event("tools_changed", tools=tools) is True  # redaction removed something
    assert recorder.record_event("tools_changed", tools=clean) is False
    recorder.close("done")
    text = (tmp_path / "session_s_shared.jsonl").read_text(encoding="utf-8")
    assert secret not in text and "hunter2" not in text
    start, changed, unchanged = read_jsonl(tmp_path / "session_s_shared.jsonl")[:3]
    assert start["type"] == "session_start" and start["mode"] == "batch" and start["model"] == "m"
    assert start["tools"][0]["function"]["description"] == "uses [REDACTED] é"
    assert start["system_prompt"] == 'You are helpful. password=[REDACTED] and key [REDACTED]\n"quoted"'
    assert changed["tools"] == start["tools"] and unchanged["tools"] == clean
