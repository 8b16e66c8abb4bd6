"""Settings as a user meets them: each kind of bad input is one line and exit 2 before any model call,
for `hermes -p` and for the REPL; values reach the agent, the tools and batch; /config is live.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES, run_hermes

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07|\r")


def bomb() -> str:
    levels = "abcdefghi"
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for previous, name in zip(levels, levels[1:], strict=False):
        text += f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
    return text


# kind -> (prepare(home) -> extra env, the one line expected on stderr (a regex, after "hermes: error: "))
KINDS: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "wrong type in config.yaml": (
        lambda home: (home / "config.yaml").write_text("agent:\n  max_turns: lots\n") and {},
        r"{home}/config\.yaml:2: 'lots' is not valid for agent\.max_turns; expected a whole number >= 1"),
    "out of range": (
        lambda home: (home / "config.yaml").write_text("agent: {max_turns: -3}\n") and {},
        r"{home}/config\.yaml:1: -3 is not valid for agent\.max_turns; expected a whole number >= 1"),
    "unknown backend blames the file, not TERMINAL_ENV": (
        lambda home: (home / "config.yaml").write_text("terminal:\n  timeout: 5\n  backend: nosuch\n") and {},
        r"{home}/config\.yaml:3: 'nosuch' is not valid for terminal\.backend; expected one of local, docker, .*"),
    "bad variable": (
        lambda home: {"HERMES_MAX_RETRIES": "abc"},
        r"env HERMES_MAX_RETRIES: 'abc' is not valid for model\.max_retries; expected a whole number >= 0"),
    "non-UTF-8 .env": (
        lambda home: (home / ".env").write_bytes(b"OK=1\nBAD=\xff\n") and {},
        r"{home}/\.env:2: not UTF-8 \(byte 0xff\); save the file as UTF-8"),
    "YAML alias bomb": (
        lambda home: (home / "config.yaml").write_text(bomb()) and {},
        r"{home}/config\.yaml: its YAML aliases expand to more than 100,000 values; .*"),
    "custom toolset naming an unknown tool": (
        lambda home: (home / "config.yaml").write_text("custom_toolsets:\n  mine: {tools: [teleport]}\n") and {},
        r"{home}/config\.yaml:2: custom_toolsets\.mine names unknown tool 'teleport'; see hermes --list-tools"),
}


def expected(kind: str, home: Path) -> re.Pattern:
    return re.compile(KINDS[kind][1].replace("{home}", re.escape(str(home))))


@pytest.mark.parametrize("kind", list(KINDS))
def test_oneshot_bad_settings_are_one_line_and_exit_2(kind: str, scripted_llm, hermetic_env: Path, tmp_path):
    llm = scripted_llm([Reply(content="never")])
    env = KINDS[kind][0](hermetic_env) or {}
    result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--model", "m", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hermes: error: "), result.stderr
    assert expected(kind, hermetic_env).fullmatch(lines[0].removeprefix("hermes: error: ")), lines[0]
    assert llm.chat_requests == [] and result.stdout == ""


def spawn_repl(llm, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> pexpect.spawn:
    environment = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", HERMES_DISABLE_SPINNER="1",
                       **(env or {}))
    return pexpect.spawn(sys.executable, [str(HERMES), "--base-url", llm.base_url, *args], env=environment,
                         encoding="utf-8", dimensions=(50, 160), timeout=20, cwd=str(cwd) if cwd else None)


@pytest.mark.parametrize("kind", ["wrong type in config.yaml", "bad variable", "non-UTF-8 .env",
                                  "custom toolset naming an unknown tool"])
def test_repl_refuses_to_start_with_bad_settings(kind: str, scripted_llm, hermetic_env: Path, tmp_path):
    llm = scripted_llm([Reply(content="never")])
    env = KINDS[kind][0](hermetic_env) or {}
    child = spawn_repl(llm, "--model", "m", env=env, cwd=tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    lines = [line for line in ANSI.sub("", child.before).splitlines() if line.strip()]
    assert child.exitstatus == 2
    assert len(lines) == 1 and expected(kind, hermetic_env).fullmatch(lines[0].removeprefix("hermes: error: "))
    assert llm.chat_requests == []


def test_bad_flag_value_is_a_usage_error(scripted_llm, tmp_path):
    result = run_hermes("-p", "hi", "--approval-mode", "sometimes", cwd=tmp_path)
    assert result.returncode == 2 and "--approval-mode: invalid choice: 'sometimes'" in result.stderr


def config_table(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in ANSI.sub("", text).splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 3 and "." in parts[0] or len(parts) == 3 and parts[0] in ("toolsets", "disabled_toolsets"):
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def test_config_shows_live_settings_after_repl_commands(scripted_llm, hermetic_env: Path, tmp_path):
    llm = scripted_llm([Reply(content="ok")] * 3)
    (hermetic_env / "config.yaml").write_text("display:\n  verbose: false\nagent:\n  max_turns: 9\n")
    child = spawn_repl(llm, env={"OPENAI_BASE_URL": llm.base_url}, cwd=tmp_path)  # --base-url too: flag wins
    child.expect("❯")
    before_end = {}

    def run(command: str) -> str:
        mark = len(child.before or "")
        child.send(command)
        child.send("\r")
        child.expect("\n")
        child.expect("❯")
        return child.before[mark:] if mark == 0 else child.before

    before_end = config_table(run("/config"))
    assert before_end["model.base_url"][1] == "flag --base-url"
    assert before_end["agent.max_turns"] == ("9", f"{hermetic_env / 'config.yaml'}:4")
    for command in ("/model other-model", "/personality pirate", "/yolo", "/verbose", "/toolsets file,web"):
        run(command)
    rows = config_table(run("/config"))
    assert rows["model.default"] == ("other-model", "/model")
    assert rows["agent.personality"] == ("pirate", "/personality")
    assert rows["approvals.mode"] == ("yolo", "/yolo")
    assert rows["display.verbose"] == ("on", "/verbose")
    assert rows["toolsets"] == ("file, web", "/toolsets")
    assert rows["agent.max_turns"] == ("9", f"{hermetic_env / 'config.yaml'}:4")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_config_names_the_variable_a_base_url_came_from(scripted_llm, hermetic_env: Path, tmp_path):
    llm = scripted_llm([Reply(content="ok")])
    environment = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", HERMES_DISABLE_SPINNER="1",
                       OPENAI_BASE_URL=llm.base_url, LLM_MODEL="env-model")
    child = pexpect.spawn(sys.executable, [str(HERMES)], env=environment, encoding="utf-8", dimensions=(50, 160),
                          timeout=20, cwd=str(tmp_path))
    child.expect("❯")
    child.send("/config\r")
    child.expect("\n")
    child.expect("❯")
    rows = config_table(child.before)
    assert rows["model.base_url"] == (llm.base_url, "env OPENAI_BASE_URL")
    assert rows["model.default"] == ("env-model", "env LLM_MODEL")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def test_approvals_mode_from_config_reaches_the_terminal_tool(scripted_llm, hermetic_env: Path, tmp_path):
    (tmp_path / "victim").mkdir()
    calls = [Reply(tool_calls=[ToolCall("terminal", {"command": "rm -r victim"})]), Reply(content="done")]
    llm = scripted_llm(list(calls))
    result = run_hermes("-p", "go", "--base-url", llm.base_url, "--model", "m", cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "victim").is_dir()  # ask, and nobody can answer: denied
    (hermetic_env / "config.yaml").write_text("approvals: {mode: yolo}\nterminal: {cwd: " + str(tmp_path) + "}\n")
    llm = scripted_llm(list(calls))
    result = run_hermes("-p", "go", "--base-url", llm.base_url, "--model", "m", cwd=hermetic_env)
    assert result.returncode == 0 and not (tmp_path / "victim").exists()  # terminal.cwd from config, too
    tool = next(m for m in llm.chat_requests[-1].body["messages"] if m["role"] == "tool")
    assert json.loads(tool["content"])["exit_code"] == 0
    assert f"Working directory: {tmp_path}." in llm.chat_requests[0].body["messages"][0]["content"]


def test_retries_come_from_settings(scripted_llm, hermetic_env: Path, tmp_path):
    (hermetic_env / "config.yaml").write_text("model: {max_retries: 1, retry_base_delay: 0}\n")
    llm = scripted_llm([Reply(status=500)] * 5)
    result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--model", "m", cwd=tmp_path)
    assert result.returncode == 1 and len(llm.chat_requests) == 2
    llm = scripted_llm([Reply(status=500)] * 5)
    result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--model", "m", cwd=tmp_path,
                        env={"HERMES_MAX_RETRIES": "0"})  # the variable wins over the file
    assert result.returncode == 1 and len(llm.chat_requests) == 1


def test_batch_honours_config(scripted_llm, hermetic_env: Path, tmp_path):
    (hermetic_env / "config.yaml").write_text(
        "model: {default: config-model}\nagent:\n  system_prompt: BATCH SYSTEM FROM CONFIG\n"
        "  personality: pirate\n  context_window: 64\n  compress_threshold: 0.5\n")
    dataset = tmp_path / "prompts.jsonl"
    dataset.write_text(json.dumps({"prompt": "a long question " * 20}) + "\n")

    def answer(body: dict, index: int) -> Reply:
        text = json.dumps(body["messages"])
        if "Summarise" in text:
            return Reply(content="summary")
        if "[Summary of earlier" in text:
            return Reply(content="answer")
        return Reply(tool_calls=[ToolCall("terminal", {"command": "true"})])  # grow the history until compressed

    llm = scripted_llm(answer)
    result = run_hermes("batch", str(dataset), "--run-name", "r", "--output-dir", str(tmp_path / "data"),
                        "--base-url", llm.base_url, "--quiet", "--max-turns", "20", cwd=tmp_path)
    failed = tmp_path / "data" / "r" / "failed.jsonl"
    assert result.returncode == 0, failed.read_text() if failed.exists() else result.stderr
    bodies = [r.body for r in llm.chat_requests]
    assert all(b["model"] == "config-model" for b in bodies)
    system = bodies[-1]["messages"][0]["content"]
    assert system.startswith("BATCH SYSTEM FROM CONFIG") and "pirate" in system.lower()
    # context_window 64 tokens: the history soon passes half of it, so the run summarises older messages
    assert any("Summarise" in json.dumps(b["messages"]) for b in bodies)
    (hermetic_env / "config.yaml").write_text("agent: {max_turns: lots}\n")
    result = run_hermes("batch", str(dataset), "--run-name", "r2", "--output-dir", str(tmp_path / "data"),
                        "--base-url", llm.base_url, "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("hermes batch: error: ")
    assert "agent.max_turns" in result.stderr and len(result.stderr.splitlines()) == 1


def test_several_problems_are_one_prefixed_line_each(scripted_llm, hermetic_env: Path, tmp_path):
    (hermetic_env / "config.yaml").write_text("terminal: {timeout: soon}\ndisplay: {spinner: maybe}\n")
    result = run_hermes("-p", "hi", "--model", "m", env={"OPENAI_BASE_URL": scripted_llm([]).base_url}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"hermes: error: {hermetic_env / 'config.yaml'}:1: 'soon' is not valid for terminal.timeout; "
        "expected a number > 0",
        f"hermes: error: {hermetic_env / 'config.yaml'}:2: 'maybe' is not valid for display.spinner; "
        "expected one of kawaii, minimal, none",
    ]
