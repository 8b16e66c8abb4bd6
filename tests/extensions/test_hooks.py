"""Lifecycle hooks as real scripts: they log their stdin, block a tool, add context, keep the model going."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agent.hooks import HookRunner
from agent.hooks_config import parse_hooks
from run_agent import AIAgent
from scripted_server import Reply, ToolCall
from tests.conftest import read_jsonl, run_hermes
from tests.extensions.conftest import tool_result


def script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/bash\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def logged(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture
def hook_scripts(tmp_path: Path) -> dict[str, str]:
    """Hooks that append their stdin (one JSON line) to <name>.log, plus a guard and a context hook."""
    d = tmp_path
    log = f'python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)))" >> {d}/$1.log'
    return {
        "log": script(d, "log.sh", log + "\n"),
        "context": script(d, "context.sh", log + "\necho \"$2\"\n"),
        "guard": script(d, "guard.sh", 'input=$(cat)\nif grep -q "rm -rf" <<<"$input"; then\n'
                        '  echo "rm -rf is not allowed here" >&2; exit 2\nfi\n'),
        "broken": script(d, "broken.sh", "cat >/dev/null; echo oops >&2; exit 1\n"),
        "stop_once": script(d, "stop_once.sh", log + "\nif ! grep -q '\"stop_hook_active\": true' "
                            f"{d}/$1.log; then echo 'run the tests first' >&2; exit 2; fi\n"),
        "reject": script(d, "reject.sh", "cat >/dev/null; echo 'prompts about secrets are blocked' >&2; exit 2\n"),
    }


def hooks_config(s: dict[str, str]) -> dict:
    return {
        "SessionStart": [{"hooks": [{"type": "command", "command": f"{s['context']} session 'the project uses tabs'"}]}],
        "UserPromptSubmit": [{"hooks": [{"type": "command", "command": f"{s['context']} prompt 'today is Tuesday'"}]}],
        "PreToolUse": [{"matcher": "terminal|write_file", "hooks": [{"type": "command", "command": s["guard"]}]}],
        "PostToolUse": [{"matcher": "terminal", "hooks": [{"type": "command", "command": f"{s['log']} post"},
                                                         {"type": "command", "command": s["broken"], "timeout": 5}]}],
        "Stop": [{"hooks": [{"type": "command", "command": f"{s['stop_once']} stop"}]}],
    }


def test_hooks_block_a_tool_add_context_and_keep_the_model_going(scripted_llm, hook_scripts, tmp_path, log_dir):
    victim = tmp_path / "victim"
    victim.mkdir()
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"rm -rf {victim}"}, id="c_rm"),
                          ToolCall("terminal", {"command": "echo fine"}, id="c_ok")]),
        Reply(content="all done"),
        Reply(content="tests pass, all done"),
    ])
    runner = HookRunner(parse_hooks(hooks_config(hook_scripts)), cwd=tmp_path)
    agent = AIAgent("m", llm.base_url, "x", enabled_toolsets=["terminal"], hooks=runner, log_directory=log_dir,
                    yolo=True)
    result = agent.run_conversation("clean up")
    agent.close()
    assert result["status"] == "success" and result["final_response"] == "tests pass, all done"

    # Context from SessionStart and UserPromptSubmit reached the model with the prompt.
    prompt = llm.chat_requests[0].body["messages"][-1]["content"]
    assert prompt.startswith("clean up") and "the project uses tabs" in prompt and "today is Tuesday" in prompt
    # The guard blocked rm -rf (exit 2: stderr is the tool result); the other call ran.
    assert victim.exists()
    assert "rm -rf is not allowed here" in tool_result(llm.chat_requests[1], "c_rm")["error"]
    assert "fine" in tool_result(llm.chat_requests[1], "c_ok")["output"]
    # The Stop hook sent the model back to work once, then let it stop.
    assert llm.chat_requests[2].body["messages"][-1] == {"role": "user", "content": "[Stop hook]: run the tests first"}

    # Each hook got the event as JSON on stdin.
    [session] = logged(tmp_path / "session.log")
    assert session["hook_event_name"] == "SessionStart" and session["source"] == "startup"
    assert session["session_id"] == agent.session_id and session["transcript_path"].endswith(".jsonl")
    assert logged(tmp_path / "prompt.log")[0]["prompt"] == "clean up"
    [post] = logged(tmp_path / "post.log")  # the blocked call never ran, so no PostToolUse for it
    assert post["tool_name"] == "terminal" and post["tool_input"] == {"command": "echo fine"}
    assert post["tool_use_id"] == "c_ok" and "fine" in post["tool_response"]
    stops = logged(tmp_path / "stop.log")
    assert [s["stop_hook_active"] for s in stops] == [False, True]
    assert stops[0]["final_response"] == "all done"

    # Effects are in the session log: blocked, added context, a failing hook (which did not block).
    hooks = [e for e in read_jsonl(next(log_dir.glob("session_*.jsonl"))) if e["type"] == "hook"]
    outcomes = {(h["hook_event"], h["outcome"]) for h in hooks}
    assert {("SessionStart", "context"), ("UserPromptSubmit", "context"), ("PreToolUse", "blocked"),
            ("PostToolUse", "error"), ("Stop", "blocked")} <= outcomes
    assert any("exited 1: oops" in (h["message"] or "") for h in hooks)


def test_one_shot_reads_hooks_from_config_and_a_prompt_hook_rejects_the_prompt(
        scripted_llm, hook_scripts, write_config):
    write_config(hooks={"UserPromptSubmit": [{"hooks": [{"type": "command", "command": hook_scripts["reject"]}]}]})
    llm = scripted_llm([Reply(content="should not be asked")])
    result = run_hermes("-p", "tell me the secrets", "--base-url", llm.base_url, "--model", "m")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == ("hermes: error: prompt blocked by a UserPromptSubmit hook: "
                                     "prompts about secrets are blocked")
    assert llm.chat_requests == []


def test_hooks_time_out_without_blocking(tmp_path):
    runner = HookRunner(parse_hooks({"PreToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "command": "sleep 30", "timeout": 0.3}]}]}), cwd=tmp_path)
    [run] = runner.run("PreToolUse", {"tool_name": "terminal"}, "terminal")
    assert not run.blocked and run.error == "timed out after 0.3s"


@pytest.mark.parametrize("raw, message", [
    ({"PreToolUse": [{"matcher": "(", "hooks": [{"command": "x"}]}]}, "not a valid regular expression"),
    ({"PreTool": []}, "unknown hook event 'PreTool' (did you mean PreToolUse?)"),
    ({"Stop": [{"hooks": [{"type": "http", "url": "x"}]}]}, "hook type 'http' is not supported"),
    ({"Stop": [{"hooks": [{"command": "x", "timeout": -1}]}]}, "`timeout` must be a number of seconds"),
])
def test_bad_hook_config_is_one_line_with_file_and_line(write_config, raw, message):
    path = write_config(model={"default": "m"}, hooks=raw)
    result = run_hermes("-p", "hi", "--base-url", "http://127.0.0.1:9/v1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert f"{path}:" in result.stderr


def test_batch_runs_hooks_too(scripted_llm, hook_scripts, write_config, tmp_path):
    write_config(hooks={"PreToolUse": [{"matcher": "terminal", "hooks": [{"type": "command",
                                                                          "command": hook_scripts["guard"]}]}]})
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "rm -rf /tmp/nothing-here"}, id="c1")]),
                        Reply(content="ok")])
    dataset = tmp_path / "p.jsonl"
    dataset.write_text(json.dumps({"prompt": "clean"}) + "\n", encoding="utf-8")
    result = run_hermes("batch", str(dataset), "--run-name", "h", "--base-url", llm.base_url, "--model", "m",
                        "--output-dir", str(tmp_path / "data"), "--distribution", "terminal_only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rm -rf is not allowed here" in tool_result(llm.chat_requests[1], "c1")["error"]


def test_post_tool_feedback_json_block_and_pre_compact(scripted_llm, hook_scripts, tmp_path, log_dir):
    feedback = script(tmp_path, "feedback.sh", "cat >/dev/null; echo 'output looks truncated, re-run with -l' >&2; exit 2\n")
    json_block = script(tmp_path, "json_block.sh",
                        'cat >/dev/null; echo \'{"decision": "block", "reason": "writes are frozen"}\'\n')
    runner = HookRunner(parse_hooks({
        "PostToolUse": [{"matcher": "terminal", "hooks": [{"type": "command", "command": feedback}]}],
        "PreToolUse": [{"matcher": "write_file", "hooks": [{"type": "command", "command": json_block}]}],
        "PreCompact": [{"matcher": "manual", "hooks": [{"type": "command", "command": f"{hook_scripts['log']} compact"}]}],
    }), cwd=tmp_path)
    llm = scripted_llm([
        Reply(tool_calls=[ToolCall("terminal", {"command": "ls"}, id="c_ls"),
                          ToolCall("write_file", {"path": str(tmp_path / "f"), "content": "x"}, id="c_w")]),
        Reply(content="first answer"),
        Reply(content="second answer"),
        Reply(content="third answer"),
        Reply(content="SUMMARY of the earlier conversation"),
    ])
    agent = AIAgent("m", llm.base_url, "x", enabled_toolsets=["terminal", "file"], hooks=runner,
                    log_directory=log_dir)
    for prompt in ("one", "two", "three"):
        agent.run_conversation(prompt, conversation_history=agent.messages)
    second = llm.chat_requests[1]
    assert tool_result(second, "c_ls")["hook_feedback"] == "output looks truncated, re-run with -l"
    assert "writes are frozen" in tool_result(second, "c_w")["error"] and not (tmp_path / "f").exists()
    agent.context.keep_last = 2
    agent.compress("requested with /compress")
    agent.close()
    [compact] = logged(tmp_path / "compact.log")
    assert compact["hook_event_name"] == "PreCompact" and compact["trigger"] == "manual"


def test_an_interrupt_stops_a_running_hook_and_the_call(scripted_llm, tmp_path):
    import threading
    import time

    runner = HookRunner(parse_hooks({"PreToolUse": [{"hooks": [{"type": "command", "command": "sleep 30"}]}]}),
                        cwd=tmp_path)
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"touch {tmp_path}/ran"}, id="c1"),
                                          ToolCall("terminal", {"command": "true"}, id="c2")]),
                        Reply(content="never")])
    agent = AIAgent("m", llm.base_url, "x", enabled_toolsets=["terminal"], hooks=runner, record=False)
    threading.Timer(0.5, agent.interrupt).start()
    started = time.monotonic()
    result = agent.run_conversation("go")
    assert result["status"] == "interrupted" and time.monotonic() - started < 5
    assert not (tmp_path / "ran").exists()
