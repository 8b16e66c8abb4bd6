"""./hermes as scripts use it: -p, stdin, output formats, exit codes, clear one-line failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, read_jsonl, run_hermes


def endpoint_flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


def six_times_seven(llm_factory):
    return llm_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo $((6*7))"})]),
        Reply(content="42"),
    ])


def assert_one_clean_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("hermes: error:")
    assert "Traceback" not in stderr


def test_oneshot_prints_only_the_answer(scripted_llm):
    llm = six_times_seven(scripted_llm)
    result = run_hermes("-p", "What is 6*7? Use the terminal.", *endpoint_flags(llm))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"
    assert result.stderr == ""
    assert len(llm.chat_requests) == 2


def test_endpoint_from_openai_env_and_model_from_llm_model(scripted_llm):
    llm = scripted_llm([Reply(content="env ok")])
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-env-key-0123456789", "LLM_MODEL": "env-model"}
    result = run_hermes("-p", "hi", env=env)
    assert (result.returncode, result.stdout) == (0, "env ok\n"), result.stderr
    request = llm.chat_requests[0]
    assert request.headers["authorization"] == "Bearer sk-env-key-0123456789"
    assert request.body["model"] == "env-model"


def test_endpoint_from_openrouter_key(scripted_llm):
    llm = scripted_llm([Reply(content="via openrouter")])
    env = {"OPENROUTER_API_KEY": "sk-or-v1-0123456789abcdef", "OPENROUTER_BASE_URL": llm.base_url}
    result = run_hermes("-p", "hi", env=env)
    assert result.stdout == "via openrouter\n", result.stderr
    assert llm.chat_requests[0].headers["authorization"] == "Bearer sk-or-v1-0123456789abcdef"


def test_model_from_config_file(scripted_llm, hermetic_env):
    (hermetic_env / "config.yaml").write_text("model:\n  default: configured-model\n", encoding="utf-8")
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "hi", "--base-url", llm.base_url)
    assert result.returncode == 0, result.stderr
    assert llm.chat_requests[0].body["model"] == "configured-model"


def test_no_endpoint_is_a_usage_error_without_a_model_call():
    result = run_hermes("-p", "hi")
    assert result.returncode == 2
    assert_one_clean_line(result.stderr)
    assert "OPENAI_BASE_URL" in result.stderr and "OPENROUTER_API_KEY" in result.stderr
    assert result.stdout == ""


def test_unknown_flag_stray_word_and_unknown_toolset_exit_2_before_any_call(scripted_llm):
    llm = scripted_llm([Reply(content="should not be used")])
    for args in (["--bogus"], ["hello"], ["-p", "hi", "--toolsets", "terminal,nope"],
                 ["-p", "hi", "--disabled-toolsets", "nah"], ["-p", "hi", "--max-turns", "zero"],
                 ["-p", "hi", "--personality", "grumpy"]):
        result = run_hermes(*args, *endpoint_flags(llm))
        assert result.returncode == 2, (args, result)
        assert_one_clean_line(result.stderr)
    assert llm.requests == []


def test_refused_connection_fails_at_once_naming_host_and_port():
    # Default retry schedule (no env tuning): a refused port is a typo, not a blip; no retries.
    started = time.monotonic()
    result = run_hermes("-p", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                        env={"HERMES_RETRY_BASE_DELAY": "1"})
    assert result.returncode == 1
    assert time.monotonic() - started < 10
    assert result.stderr.splitlines() == [
        "hermes: error: connection refused: 127.0.0.1:9; is the model server running and listening there? "
        "check --base-url (http://127.0.0.1:9/v1)"]


def test_unknown_host_fails_at_once():
    result = run_hermes("-p", "hi", "--base-url", "http://no-such-host.invalid:8000/v1", "--model", "m",
                        env={"HERMES_RETRY_BASE_DELAY": "1"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "hermes: error: unknown host: no-such-host.invalid; check --base-url (http://no-such-host.invalid:8000/v1)"]


def test_default_retry_schedule_gives_up_within_about_a_minute():
    from agent.retry import RetryPolicy

    policy = RetryPolicy()
    worst = sum(policy.base_delay * 2 ** (a - 1) * (1 + policy.jitter) for a in range(1, policy.max_attempts))
    assert worst <= 60 and policy.deadline <= 90


def test_server_that_keeps_failing_exits_1(scripted_llm):
    llm = scripted_llm([Reply(status=503)] * 20)
    result = run_hermes("-p", "hi", *endpoint_flags(llm), env={"HERMES_MAX_RETRIES": "3"})
    assert result.returncode == 1
    assert "HTTP 503" in result.stderr and "after 4 attempts" in result.stderr
    assert len(llm.chat_requests) == 4


def test_prompt_from_stdin_dash_and_from_pipe(scripted_llm):
    llm = scripted_llm([Reply(content="one"), Reply(content="two")])
    assert run_hermes("-p", "-", *endpoint_flags(llm), input="from dash\n").stdout == "one\n"
    assert run_hermes(*endpoint_flags(llm), input="from pipe").stdout == "two\n"
    assert [r.body["messages"][-1]["content"] for r in llm.chat_requests] == ["from dash", "from pipe"]
    empty = run_hermes(*endpoint_flags(llm), input="")
    assert empty.returncode == 2 and "stdin was empty" in empty.stderr


def test_json_output_is_one_object(scripted_llm):
    llm = six_times_seven(scripted_llm)
    result = run_hermes("-p", "x", "--output-format", "json", *endpoint_flags(llm))
    data = result.json()
    assert data["answer"] == "42" and data["status"] == "success" and data["exit_code"] == 0
    assert data["usage"]["total_tokens"] > 0 and data["api_calls"] == 2
    assert data["session_id"] and os.path.exists(data["session_log"])


def test_stream_json_emits_events_in_order(scripted_llm):
    llm = six_times_seven(scripted_llm)
    result = run_hermes("-p", "x", "--output-format", "stream-json", *endpoint_flags(llm))
    events = result.json_lines()
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "result"
    assert types.index("tool_start") < types.index("tool_end") < types.index("text")
    tool_end = events[types.index("tool_end")]
    assert tool_end["name"] == "terminal" and tool_end["ok"] and "42" in tool_end["result"]
    assert events[-1]["answer"] == "42" and events[0]["session_id"] == events[-1]["session_id"]


def test_failed_run_in_json_mode_still_reports(scripted_llm):
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "true"})])] * 3)
    result = run_hermes("-p", "x", "--max-turns", "2", "--output-format", "json", *endpoint_flags(llm))
    assert result.returncode == 1
    data = result.json()
    assert data["status"] == "max_turns" and data["exit_code"] == 1 and "--max-turns" in data["error"]


def test_list_tools_shows_unavailable_with_reason():
    result = run_hermes("--list-tools")
    assert result.returncode == 0
    assert "✓ terminal" in result.stdout and "✓ read_file" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "web_search" in line)
    assert "✗" in line and "unavailable:" in line


def test_list_toolsets():
    result = run_hermes("--list-toolsets")
    assert result.returncode == 0
    for name in ("terminal", "file", "web", "browser", "skills", "debugging", "safe"):
        assert f"  {name} " in result.stdout


def test_toolsets_flag_limits_what_the_model_sees(scripted_llm):
    llm = scripted_llm([Reply(content="ok"), Reply(content="ok")])
    run_hermes("-p", "x", "--toolsets", "file", *endpoint_flags(llm))
    run_hermes("-p", "x", "--disabled-toolsets", "file", *endpoint_flags(llm))
    first, second = ({t["function"]["name"] for t in r.body["tools"]} for r in llm.chat_requests)
    assert first == {"read_file", "write_file", "patch", "search_files"}
    assert "terminal" in second and not second & first


def test_sigkill_mid_run_leaves_parseable_logs(scripted_llm, log_dir):
    llm = scripted_llm([
        Reply(content="Starting the long job now.",
              tool_calls=[ToolCall("terminal", {"command": "echo started; sleep 8"}, id="call_long")]),
        Reply(content="never reached"),
    ])
    proc = subprocess.Popen([sys.executable, str(HERMES), "-p", "run the long job", *endpoint_flags(llm)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logs = list(log_dir.glob("session_*.jsonl"))
        if logs and '"tool_calls"' in logs[0].read_text(encoding="utf-8"):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    [event_log] = log_dir.glob("session_*.jsonl")
    events = read_jsonl(event_log)  # every line parses
    messages = [e["message"] for e in events if e["type"] == "message"]
    assert messages[0] == {"role": "user", "content": "run the long job"}
    assert messages[1]["tool_calls"][0]["id"] == "call_long"
    assert any(e["type"] == "llm_call" for e in events)
    session = json.loads(event_log.with_suffix(".json").read_text(encoding="utf-8"))
    assert [t["from"] for t in session["conversations"]] == ["system", "human", "gpt"]
    assert "Starting the long job now." in session["conversations"][2]["value"]
