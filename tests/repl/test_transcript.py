"""/save and /history: the conversation as readable markdown."""

from __future__ import annotations

from hermes_cli.repl.transcript import to_markdown


def test_inline_think_and_text_tool_calls_are_separated_from_the_answer():
    messages = [
        {"role": "user", "content": "what is in the dir?"},
        {"role": "assistant", "content": '<think>list it first</think>Let me look.<tool_call>{"name": "terminal",'
                                         ' "arguments": {"command": "ls"}}</tool_call>'},
        {"role": "user", "content": "<tool_response>{}</tool_response>"},
        {"role": "assistant", "content": "Two files.", "reasoning": "api reasoning"},
    ]
    text = to_markdown(messages, session_id="s1", model="m")
    assert "> list it first" in text and "> api reasoning" in text
    assert "Let me look." in text and "list it firstLet me" not in text
    assert '**→ tool call** `{"name": "terminal", "arguments": {"command": "ls"}}`' in text
    assert "<think>" not in text and "<tool_call>" not in text
    assert text.count("## You") == 1 and "```text\n<tool_response>{}</tool_response>\n```" in text


def test_tool_results_are_clipped_and_errors_named():
    messages = [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "terminal", "arguments": '{"command": "yes"}'}}]},
        {"role": "tool", "tool_call_id": "a", "content": '{"output": "' + "y\\n" * 3000 + '"}'},
        {"role": "tool", "tool_call_id": "b", "content": '{"error": "no such file"}'},
    ]
    text = to_markdown(messages)
    assert '**→ terminal** `{"command": "yes"}`' in text
    assert "more characters)" in text and "error: no such file" in text
    assert len(to_markdown(messages, clip=False)) > len(text)
