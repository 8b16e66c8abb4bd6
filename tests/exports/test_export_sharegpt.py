"""`hermes export --format sharegpt`: the Hermes-Agent dialect byte for byte (formats.md §1)."""

from __future__ import annotations

import json

from tests.conftest import run_hermes
from tests.exports.toolkit import TOOLS, small_session, tool_session_replies, write_log

# formats.md §1.2: the system turn, written out by hand (not taken from the code under test).
SYSTEM_VALUE = (
    r"You are a function calling AI model. You are provided with function signatures within <tools> </tools> XML tags. "
    r"You may call one or more functions to assist with the user query. If available tools are not relevant in "
    r"assisting with user query, just respond in natural conversational language. Don't make assumptions about what "
    r"values to plug into functions. After calling & executing the functions, you will be provided with function "
    r"results within <tool_response> </tool_response> XML tags. Here are the available tools:\n<tools>\n"
    r"[{\"name\": \"terminal\", \"description\": \"Execute shell commands\", \"parameters\": {\"type\": \"object\", "
    r"\"properties\": {\"command\": {\"type\": \"string\"}}}, \"required\": null}]\n</tools>\nFor each function call "
    r"return a JSON object, with the following pydantic model json schema for each:\n{'title': 'FunctionCall', "
    r"'type': 'object', 'properties': {'name': {'title': 'Name', 'type': 'string'}, 'arguments': {'title': "
    r"'Arguments', 'type': 'object'}}, 'required': ['name', 'arguments']}\nEach function call should be enclosed "
    r"within <tool_call> </tool_call> XML tags.\nExample:\n<tool_call>\n{'name': <function-name>,'arguments': "
    r"<args-dict>}\n</tool_call>"
)

# The whole line, as JSON text: every escape below is deliberate.
EXPECTED_LINE = (
    r'{"conversations": [{"from": "system", "value": "' + SYSTEM_VALUE + r'"}, '
    r'{"from": "human", "value": "What Python version is installed?"}, '
    r'{"from": "gpt", "value": "<think>\nI should run python3 --version.\n</think>\n<tool_call>\n'
    r'{\"name\": \"terminal\", \"arguments\": {\"command\": \"python3 --version\"}}\n</tool_call>"}, '
    r'{"from": "tool", "value": "<tool_response>\n{\"tool_call_id\": \"call_abc123\", \"name\": \"terminal\", '
    r'\"content\": {\"output\": \"Python 3.11.6\\n\", \"exit_code\": 0, \"error\": null}}\n</tool_response>"}, '
    r'{"from": "gpt", "value": "<think>\n</think>\nPython 3.11.6 is installed on this system ✓"}], '
    r'"timestamp": "2026-11-21T10:00:05.123456", "model": "nous/hermes-test", "completed": true, "compacted": false}'
)


def test_sharegpt_line_is_byte_for_byte_the_hermes_dialect(tmp_path):
    log = small_session(tmp_path / "logs" / "session_20261121_100000_abc123.jsonl")
    out = tmp_path / "sft.jsonl"
    result = run_hermes("export", str(log), "--format", "sharegpt", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (EXPECTED_LINE + "\n").encode("utf-8")
    record = json.loads(EXPECTED_LINE)  # the expected text is itself what the spec describes
    assert list(record) == ["conversations", "timestamp", "model", "completed", "compacted"]  # upstream keys, then ours
    assert all(set(turn) == {"from", "value"} for turn in record["conversations"])
    assert "hermes export: 1 of 1 sessions -> 1 sharegpt record" in result.stderr


def test_stdout_is_the_default_output_and_dash_means_stdout(tmp_path):
    log = small_session(tmp_path / "logs" / "session_20261121_100000_abc123.jsonl")
    for extra in ([], ["--output", "-"]):
        result = run_hermes("export", str(log), "--format", "sharegpt", *extra)
        assert result.returncode == 0, result.stderr
        assert result.stdout == EXPECTED_LINE + "\n"


def test_directory_input_and_gzip_output(tmp_path):
    import gzip

    small_session(tmp_path / "logs" / "session_20261121_100000_abc123.jsonl")
    small_session(tmp_path / "logs" / "nested" / "session_20261121_110000_def456.jsonl")
    (tmp_path / "logs" / "notes.txt").write_text("not a log", encoding="utf-8")
    out = tmp_path / "sft.jsonl.gz"
    result = run_hermes("export", str(tmp_path / "logs"), "--format", "sharegpt", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert gzip.decompress(out.read_bytes()).decode("utf-8") == (EXPECTED_LINE + "\n") * 2


def test_dialect_details(tmp_path):
    """Several calls in one turn share one tool turn; scratchpads become <think>; bad arguments become {};
    plain-text tool output stays a string; a tool result beyond the calls is named `unknown`."""
    from exports.sharegpt import to_record
    from exports.source import load_trajectory

    calls = [{"id": "a", "type": "function", "function": {"name": "terminal", "arguments": "{\"command\": \"ls\"}"}},
             {"id": "b", "type": "function", "function": {"name": "read_file", "arguments": "{not json"}}]
    log = write_log(tmp_path / "session_20261121_120000_aaaaaa.jsonl", [
        {"type": "session_start", "ts": "2026-11-21T12:00:00", "session_id": "20261121_120000_aaaaaa", "model": "m",
         "tools": TOOLS},
        {"type": "message", "message": {"role": "user", "content": "look around"}},
        {"type": "message", "message": {"role": "assistant", "content": "<REASONING_SCRATCHPAD>plan</REASONING_SCRATCHPAD>",
                                        "tool_calls": calls}},
        {"type": "message", "message": {"role": "tool", "tool_call_id": "a", "content": "README.md\nsetup.py"}},
        {"type": "message", "message": {"role": "tool", "tool_call_id": "b", "content": "[1, 2]"}},
        {"type": "message", "message": {"role": "tool", "tool_call_id": "c", "content": "extra"}},
        {"type": "message", "message": {"role": "assistant", "content": "  <REASONING_SCRATCHPAD>unclosed thought  ",
                                        "reasoning": "   "}},
    ])
    turns = to_record(load_trajectory(log))["conversations"]
    assert [t["from"] for t in turns] == ["system", "human", "gpt", "tool", "gpt"]
    assert turns[2]["value"] == (
        '<think>plan</think>\n'
        '<tool_call>\n{"name": "terminal", "arguments": {"command": "ls"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "read_file", "arguments": {}}\n</tool_call>'
    )
    assert turns[3]["value"] == (
        '<tool_response>\n{"tool_call_id": "a", "name": "terminal", "content": "README.md\\nsetup.py"}\n</tool_response>\n'
        '<tool_response>\n{"tool_call_id": "b", "name": "read_file", "content": [1, 2]}\n</tool_response>\n'
        '<tool_response>\n{"tool_call_id": "c", "name": "unknown", "content": "extra"}\n</tool_response>'
    )
    assert turns[4]["value"] == "<think>unclosed thought"  # blank reasoning adds nothing; the lone tag still opens


def test_recorded_session_exports_as_the_session_file_shows_it(scripted_llm, log_dir):
    """A real run: the export's turns equal the seed's session file, and the timestamp is the run's end."""
    from tests.exports.toolkit import record_session

    log = record_session(scripted_llm(tool_session_replies()), "What is 6*7?", log_dir)
    result = run_hermes("export", str(log), "--format", "sharegpt")
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    session_file = json.loads(log.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["conversations"] == session_file["conversations"]
    run_end = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()
               if '"run_end"' in line][-1]
    assert record["timestamp"] == run_end["ts"] and record["completed"] is True
    assert record["model"] == "scripted-model"


def test_text_mode_session_is_byte_for_byte_the_hermes_dialect(tmp_path):
    """A model writing <tool_call> text itself gets its results back as one user message of
    <tool_response> blocks: upstream's converter writes that as a `human` turn, verbatim, and the
    calls stay in the gpt turn's text (formats.md §1.2)."""
    call = '<tool_call>\n{"name": "terminal", "arguments": {"command": "ls"}}\n</tool_call>'
    result_text = '<tool_response>\n{"name": "terminal", "content": {"output": "a.txt\\n", "exit_code": 0}}\n</tool_response>'
    log = write_log(tmp_path / "session_20261121_120000_cccccc.jsonl", [
        {"type": "session_start", "ts": "2026-11-21T12:00:00", "session_id": "20261121_120000_cccccc",
         "model": "nous/hermes-test", "tools": TOOLS, "system_prompt": "sys", "mode": "oneshot"},
        {"type": "message", "message": {"role": "user", "content": "list the files"}},
        {"type": "llm_call", "call": 1, "prompt_messages": 1, "finish_reason": "stop"},
        {"type": "message", "message": {"role": "assistant", "content": call}},
        {"type": "message", "message": {"role": "user", "content": result_text}},
        {"type": "llm_call", "call": 2, "prompt_messages": 3, "finish_reason": "stop"},
        {"type": "message", "message": {"role": "assistant", "content": "One file: a.txt"}},
        {"type": "run_end", "ts": "2026-11-21T12:00:03.5", "status": "success", "error": None},
    ])
    result = run_hermes("export", str(log), "--format", "sharegpt")
    assert result.returncode == 0, result.stderr
    expected = (
        r'{"conversations": [{"from": "system", "value": "' + SYSTEM_VALUE + r'"}, '
        r'{"from": "human", "value": "list the files"}, '
        r'{"from": "gpt", "value": "<think>\n</think>\n<tool_call>\n{\"name\": \"terminal\", \"arguments\": '
        r'{\"command\": \"ls\"}}\n</tool_call>"}, '
        r'{"from": "human", "value": "<tool_response>\n{\"name\": \"terminal\", \"content\": {\"output\": '
        r'\"a.txt\\n\", \"exit_code\": 0}}\n</tool_response>"}, '
        r'{"from": "gpt", "value": "<think>\n</think>\nOne file: a.txt"}], '
        r'"timestamp": "2026-11-21T12:00:03.5", "model": "nous/hermes-test", "completed": true, "compacted": false}'
    )
    assert result.stdout == expected + "\n"
