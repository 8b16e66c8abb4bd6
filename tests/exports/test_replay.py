"""`hermes replay SESSION`: re-run a recorded session's tool calls here, with no model, and report
the first step whose output differs from the recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripted_server import ToolCall
from tests.conftest import run_hermes
from tests.exports.toolkit import read_jsonl_text, record_session, reply

COMMANDS = ["export GREETING=hello", "echo $GREETING from $(basename $PWD)", "cat data.txt", "wc -c < data.txt"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "data.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    monkeypatch.setenv("TERMINAL_CWD", str(directory))
    return directory


@pytest.fixture
def recorded(scripted_llm, log_dir: Path, workdir: Path) -> tuple[Path, object]:
    replies = [reply(calls=[ToolCall("terminal", {"command": c}, id=f"call_{i}")]) for i, c in enumerate(COMMANDS)]
    llm = scripted_llm([*replies, reply("Done.")])
    log = record_session(llm, "poke around", log_dir)
    outputs = [json.loads(e["message"]["content"])["output"] for e in read_jsonl_text(log.read_text(encoding="utf-8"))
               if e["type"] == "message" and e["message"]["role"] == "tool"]
    assert outputs == ["", "hello from project\n", "alpha\nbeta\n", "11\n"]  # the recording itself
    llm.close()  # replay must not need the model
    return log, llm


def replay(*args: str, cwd: Path) -> object:
    return run_hermes("replay", *args, "--cwd", str(cwd))


def test_replay_in_the_same_environment_matches_every_step(recorded, workdir):
    log, llm = recorded
    session_id = log.stem.removeprefix("session_")
    result = replay(session_id[:18], cwd=workdir)  # an id prefix works
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"replaying 4 tool calls of session {session_id}"
    for number, command in enumerate(COMMANDS, 1):
        assert f"[{number}/4] terminal {json.dumps({'command': command})}  -> same" in result.stdout
    assert lines[-1] == "all 4 steps matched the recording"
    assert llm.calls == len(COMMANDS) + 1  # only the recording run reached the model


def test_replay_reports_the_first_divergence_with_both_outputs(recorded, workdir):
    log, _ = recorded
    (workdir / "data.txt").write_text("alpha\ngamma\n", encoding="utf-8")  # what changed since the bug report
    result = replay(str(log), cwd=workdir)
    assert result.returncode == 1
    out = result.stdout
    assert "[1/4] terminal" in out and "[2/4] terminal" in out and out.count("-> same") == 2
    assert f"[3/4] terminal {json.dumps({'command': 'cat data.txt'})}  -> DIFFERS" in out
    step3 = out[out.index("[3/4]"):out.index("[4/4]")]
    assert "recorded: " in step3 and "beta" in step3.split("replayed:")[0] and "gamma" in step3.split("replayed:")[1]
    assert "[4/4]" in out and "-> DIFFERS" in out[out.index("[4/4]"):]  # 12 bytes now; still reported
    assert out.splitlines()[-1] == ("first divergence at step 3/4 (terminal "
                                    + json.dumps({"command": "cat data.txt"}) + "); 2 of 4 replayed steps matched")


def test_replay_json_and_stop_at_divergence(recorded, workdir):
    log, _ = recorded
    (workdir / "data.txt").write_text("changed\n", encoding="utf-8")
    result = replay(str(log), "--json", "--stop-at-divergence", cwd=workdir)
    assert result.returncode == 1
    *steps, summary = read_jsonl_text(result.stdout)
    assert [s["step"] for s in steps] == [1, 2, 3] and [s["matched"] for s in steps] == [True, True, False]
    assert json.loads(steps[2]["recorded"])["output"] == "alpha\nbeta\n"
    assert json.loads(steps[2]["replayed"])["output"] == "changed\n"
    assert summary == {"session_id": log.stem.removeprefix("session_"), "steps": 4, "replayed": 3, "matched": 2,
                       "skipped": [], "first_divergence": 3}


def test_replay_errors_are_one_line(tmp_path, log_dir):
    result = run_hermes("replay", "20990101")
    assert result.returncode == 2 and result.stderr.startswith("hermes replay: error: no session '20990101'")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_hermes("replay")
    assert result.returncode == 2 and "the following arguments are required: session" in result.stderr


def test_replay_of_a_session_without_tool_calls(scripted_llm, log_dir):
    log = record_session(scripted_llm([reply("Hi.")]), "hello", log_dir)
    result = run_hermes("replay", str(log))
    assert result.returncode == 0
    assert result.stdout == f"session {log.stem.removeprefix('session_')} has no tool calls to replay\n"


def test_replay_walks_calls_a_compaction_removed_and_never_prints_a_secret(scripted_llm, log_dir, workdir,
                                                                             monkeypatch):
    """Calls summarised away still ran and set up state: all are replayed. A secret known to the
    recording (in its environment) but not to the replay is neither printed nor a divergence."""
    from run_agent import AIAgent
    from scripted_server import Reply
    from tests.exports.toolkit import KEY

    secret = "hunter2-very-secret-value"
    (workdir / "token.txt").write_text(secret + "\n", encoding="utf-8")
    monkeypatch.setenv("MY_SERVICE_TOKEN", secret)
    commands = ["echo one > a.txt", "cat token.txt", "cat a.txt", "echo two >> a.txt", "cat a.txt"]

    def responder(body: dict, index: int) -> Reply:
        if body["messages"][0]["content"].startswith("You summarise"):
            return Reply("Earlier: files were made.")
        if body["messages"][-1]["role"] == "tool":
            return Reply("ok")
        command = commands[min(index // 2, len(commands) - 1)]
        return Reply(tool_calls=[ToolCall("terminal", {"command": command}, id=f"call_{index}")])

    llm = scripted_llm(responder)
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"])
    for prompt in ("a", "b", "c", "d"):
        agent.chat(prompt)
    assert agent.compress() is not None
    agent.chat("e")
    agent.close()
    log = log_dir / f"session_{agent.session_id}.jsonl"
    assert secret not in log.read_text(encoding="utf-8")
    monkeypatch.delenv("MY_SERVICE_TOKEN")

    result = replay("--json", str(log), cwd=workdir)
    assert secret not in result.stdout + result.stderr
    *steps, summary = read_jsonl_text(result.stdout)
    assert summary["steps"] == 5 and summary["replayed"] == 5 and summary["skipped"] == []
    assert [s["arguments"] for s in steps] == [json.dumps({"command": c}) for c in commands]
    assert result.returncode == 0, result.stdout  # the redacted step matches outside the redaction


def test_replay_says_which_call_it_skipped_and_why(scripted_llm, log_dir, workdir, monkeypatch):
    """A call whose arguments held a secret is redacted in the log: replay cannot run it, and says
    so by step number and reason (text and --json), never printing the secret."""
    secret = "hunter2-very-secret-value"
    monkeypatch.setenv("MY_SERVICE_TOKEN", secret)
    replies = [reply(calls=[ToolCall("terminal", {"command": "echo start"}, id="call_0")]),
               reply(calls=[ToolCall("terminal", {"command": f"echo {secret} > s.txt"}, id="call_1")]),
               reply(calls=[ToolCall("terminal", {"command": "cat data.txt"}, id="call_2")]),
               reply("Done.")]
    log = record_session(scripted_llm(replies), "go", log_dir)
    assert secret not in log.read_text(encoding="utf-8")
    monkeypatch.delenv("MY_SERVICE_TOKEN")
    (workdir / "s.txt").unlink()  # the recording ran it

    result = replay(str(log), cwd=workdir)
    assert secret not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("[2/3] terminal") and "SKIPPED: its arguments held a secret, redacted in the log"
               in line for line in lines), result.stdout
    assert "skipped 1 step (2): see the reasons above" in lines
    assert not (workdir / "s.txt").exists()

    as_json = replay("--json", str(log), cwd=workdir)
    *steps, summary = read_jsonl_text(as_json.stdout)
    assert summary["steps"] == 3 and summary["replayed"] == 2 and summary["skipped"] == [2]
    assert steps[1]["skipped"] == "its arguments held a secret, redacted in the log"
    assert secret not in as_json.stdout
