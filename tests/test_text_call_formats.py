"""Tool calls that open models write as text: one fixture per format, parsed, run and recorded as written."""

from __future__ import annotations

import time

import pytest

from agent.retry import RetryPolicy
from agent.tool_calls import has_text_tool_calls, parse_text_tool_calls
from run_agent import AIAgent
from scripted_server import Reply
from tests.conftest import read_jsonl

SCHEMAS = {
    "terminal": {"type": "object", "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}}},
    "read_file": {"type": "object", "properties": {"path": {"type": "string"}}},
}
WANT = ("terminal", {"command": "echo 'hi there'", "timeout": 5})

FIXTURES = {
    "hermes": '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo \'hi there\'", "timeout": 5}}\n</tool_call>',
    "qwen3_coder": ("Let me run it.\n<tool_call>\n<function=terminal>\n<parameter=command>\necho 'hi there'\n"
                    "</parameter>\n<parameter=timeout>\n5\n</parameter>\n</function>\n</tool_call>"),
    "qwen3_coder_bare": ("<function=terminal>\n<parameter=command>\necho 'hi there'\n</parameter>\n"
                         "<parameter=timeout>\n5\n</parameter>\n</function>"),
    "mistral_list": '[TOOL_CALLS][{"name": "terminal", "arguments": {"command": "echo \'hi there\'", "timeout": 5}}]',
    "mistral_args": '[TOOL_CALLS]terminal[ARGS]{"command": "echo \'hi there\'", "timeout": 5}',
    "mistral_call_id": '[TOOL_CALLS]terminal[CALL_ID]a1b2c3d4e[ARGS]{"command": "echo \'hi there\'", "timeout": 5}',
    "llama_json": '{"name": "terminal", "parameters": {"command": "echo \'hi there\'", "timeout": 5}}',
    "llama_python_tag": '<|python_tag|>{"name": "terminal", "parameters": {"command": "echo \'hi there\'", "timeout": 5}}<|eom_id|>',
    "llama_pythonic": "<|python_tag|>terminal(command=\"echo 'hi there'\", timeout=5)",
    "bare_json_fenced": '```json\n{"name": "terminal", "arguments": {"command": "echo \'hi there\'", "timeout": 5}}\n```',
    "gemma_tool_code": "```tool_code\nterminal(command=\"echo 'hi there'\", timeout=5)\n```",
    "gemma_tool_call_fence": "```tool_call\n{'name': 'terminal', 'arguments': {'command': \"echo 'hi there'\", 'timeout': 5}}\n```",
    "function_gemma": "<start_function_call>call:terminal{command:<escape>echo 'hi there'<escape>,timeout:5}<end_function_call>",
    "gemma4": "<|tool_call>call:terminal{command:<|\"|>echo 'hi there'<|\"|>,timeout:5}<tool_call|>",
    "deepseek_v3": ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>terminal\n```json\n"
                    "{\"command\": \"echo 'hi there'\", \"timeout\": 5}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"),
    "deepseek_v31": ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>terminal<｜tool▁sep｜>"
                     "{\"command\": \"echo 'hi there'\", \"timeout\": 5}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_format_parses_to_the_same_call(name):
    text = FIXTURES[name]
    assert has_text_tool_calls(text, SCHEMAS)
    calls, errors = parse_text_tool_calls(text, SCHEMAS)
    assert errors == []
    assert [(c.name, c.arguments) for c in calls] == [WANT]


def test_several_calls_in_one_reply():
    text = ('[TOOL_CALLS][{"name": "terminal", "arguments": {"command": "a"}}, '
            '{"name": "read_file", "arguments": {"path": "b"}}]')
    calls, _ = parse_text_tool_calls(text, SCHEMAS)
    assert [(c.name, c.arguments) for c in calls] == [("terminal", {"command": "a"}), ("read_file", {"path": "b"})]
    two = '<|python_tag|>{"name": "terminal", "parameters": {"command": "a"}}; {"name": "read_file", "parameters": {"path": "b"}}'
    assert len(parse_text_tool_calls(two, SCHEMAS)[0]) == 2


@pytest.mark.parametrize("text", [
    'Here is the JSON you asked for: {"name": "terminal", "arguments": {}}',  # prose first: an answer
    '{"name": "Alice", "arguments": ["x"]}',  # not a known tool
    '{"name": "terminal", "age": 3}',  # no arguments/parameters
    "A plain answer with no calls at all.",
    "```python\nprint('an ordinary code sample')\n```",
    '{"name": ["terminal"], "arguments": {}}',
    "Mistral models write [TOOL_CALLS] before their calls, and Llama uses <|python_tag|> instead.",
    "Qwen3-Coder wraps calls as <function=NAME> … in its output.",
])
def test_ordinary_answers_are_not_calls(text):
    assert parse_text_tool_calls(text, SCHEMAS) == ([], [])


@pytest.mark.parametrize("text", [
    "<tool_call>{not json at all</tool_call>",
    "[TOOL_CALLS]terminal[ARGS]{broken",
    "<function=terminal><parameter=command>ls",  # cut short but still readable: no error expected below
    "```tool_code\nterminal('positional')\n```",
    "<start_function_call>call:terminal{command:<escape>ls<escape>,,}<end_function_call>",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>terminal\n```json\n{oops}\n```<｜tool▁call▁end｜>",
    "<|python_tag|>" + "[" * 50_000,
    "<tool_call>" + "{'a': " * 5000 + "</tool_call>",
    '<tool_call>{"name": "terminal", "arguments": {"n": ' + "9" * 5000 + "}}</tool_call>",
])
def test_malformed_calls_become_errors_never_exceptions(text):
    calls, errors = parse_text_tool_calls(text, SCHEMAS)
    if text.startswith("<function="):
        assert calls and not errors
        return
    assert not calls and len(errors) == 1 and len(errors[0]) < 400


def test_no_marker_is_cheap():
    text = "word " * 2_000_000  # 10 MB of answer
    started = time.perf_counter()
    assert not has_text_tool_calls(text, SCHEMAS)
    assert time.perf_counter() - started < 1.0  # ~0.05 s on an idle core: a few substring scans


FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, deadline=10)


@pytest.mark.parametrize("name", ["qwen3_coder", "mistral_args", "llama_json", "gemma_tool_code", "deepseek_v3"])
def test_agent_runs_text_calls_and_records_the_raw_text(scripted_llm, log_dir, name):
    llm = scripted_llm([Reply(content=FIXTURES[name]), Reply(content="done")])
    agent = AIAgent(model="m", base_url=llm.base_url, api_key="k", retry_policy=FAST, enabled_toolsets=["terminal"])
    result = agent.run_conversation("say hi")
    agent.close()
    assert result["status"] == "success" and result["final_response"] == "done"
    sent = llm.chat_requests[1].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": FIXTURES[name]}  # re-sent as the model wrote it
    response = sent[-1]["content"]
    assert response.startswith("<tool_response>") and "hi there" in response
    logged = [e["message"] for e in read_jsonl(next(log_dir.glob("session_*.jsonl"))) if e["type"] == "message"]
    assert logged[1]["content"] == FIXTURES[name]


def test_unreadable_call_gets_an_error_then_the_model_corrects_it(scripted_llm):
    llm = scripted_llm([Reply(content="[TOOL_CALLS]terminal[ARGS]{broken"),
                        Reply(content='[TOOL_CALLS]terminal[ARGS]{"command": "echo fixed"}'), Reply(content="ok")])
    agent = AIAgent(model="m", base_url=llm.base_url, api_key="k", retry_policy=FAST, enabled_toolsets=["terminal"],
                    record=False)
    result = agent.run_conversation("go")
    assert result["status"] == "success"
    error_turn = llm.chat_requests[1].body["messages"][-1]["content"]
    assert "could not parse [TOOL_CALLS] call" in error_turn and "resend them in valid form" in error_turn
    assert "fixed" in llm.chat_requests[2].body["messages"][-1]["content"]


def test_same_unreadable_call_forever_is_stopped_by_the_loop_guard(scripted_llm):
    llm = scripted_llm(default=Reply(content="<tool_call>{broken</tool_call>"))
    agent = AIAgent(model="m", base_url=llm.base_url, api_key="k", retry_policy=FAST, enabled_toolsets=["terminal"],
                    record=False)
    result = agent.run_conversation("go")
    assert result["status"] == "loop_detected"
    assert len(llm.chat_requests) <= 6
