"""Parsing tool calls that local models write as text."""

from __future__ import annotations

from agent.tool_calls import parse_text_tool_calls


def test_hermes_json_blocks_multiple():
    calls, errors = parse_text_tool_calls(
        'a<tool_call>{"name": "terminal", "arguments": {"command": "ls"}}</tool_call>'
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "x"}}\n</tool_call>'
    )
    assert [(c.name, c.arguments) for c in calls] == [("terminal", {"command": "ls"}), ("read_file", {"path": "x"})]
    assert errors == []


def test_single_quotes_string_arguments_and_missing_close_tag():
    calls, _ = parse_text_tool_calls("<tool_call>{'name': 'terminal', 'arguments': {'command': 'pwd'}}</tool_call>")
    assert calls[0].arguments == {"command": "pwd"}
    calls, _ = parse_text_tool_calls('<tool_call>{"name": "t", "arguments": "{\\"a\\": 1}"}')
    assert calls[0].name == "t" and calls[0].arguments == {"a": 1}


def test_name_then_json_style():
    calls, _ = parse_text_tool_calls('<tool_call>terminal{"command": "date"}</tool_call>')
    assert (calls[0].name, calls[0].arguments) == ("terminal", {"command": "date"})


def test_garbage_reports_an_error():
    calls, errors = parse_text_tool_calls("<tool_call>{oops</tool_call>")
    assert calls == [] and len(errors) == 1 and "{oops" in errors[0]
