"""`hermes batch --driver asyncio` (what `auto` picks when no HTTP proxy is in the way): the same
runs as the thread pool, driven from one event loop (batch/aio.py over agent/steps.py, model calls
on the lean client agent/wire.py). Real CLI runs against the scripted server, real bash."""

from __future__ import annotations

import json
import subprocess

import pytest

from scripted_server import Reply, ToolCall
from tests.batch.test_batch_rl import by_prompt, score_from_seed
from tests.batch.test_batch_runner import (
    KEY,
    batch,
    complete_records,
    interrupt_mid_run,
    prompt_of,
    records,
    write_dataset,
)


@pytest.mark.parametrize("driver", ["asyncio", "threads"])
def test_groups_tools_sampling_and_verifier_rewards_on_either_driver(scripted_llm, tmp_path, driver):
    llm = scripted_llm(score_from_seed)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "alpha"}, {"prompt": "beta", "seed": 40}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "a", "--driver", driver, "--n", "3",
                   "--seed", "10", "--temperature", "0.5", "--distribution", "terminal_only",
                   "--verify", "echo $SCORE")
    assert result.returncode == 0, result.stderr
    groups = by_prompt(records(tmp_path / "data/a/trajectories.jsonl"))
    # each sample's tool ran in its own shell (the verifier sees that shell's SCORE) with its own seed
    assert [r["reward"] for r in groups["alpha"]] == [1.0, 1.1, 1.2]
    assert [r["reward"] for r in groups["beta"]] == [4.0, 4.1, 4.2]
    assert all(r["api_calls"] == 2 and r["tool_stats"]["terminal"]["success"] == 1
               for g in groups.values() for r in g)
    assert all(r.body["temperature"] == 0.5 and r.body["stream"] is True for r in llm.chat_requests)
    stats = json.loads((tmp_path / "data/a/statistics.json").read_text())
    assert stats["samples"]["completed"] == 6 and stats["api_calls"] == 12


@pytest.mark.parametrize("driver", ["asyncio", "threads"])
def test_retries_timeouts_and_plain_json_replies_on_either_driver(scripted_llm, tmp_path, driver):
    def reply(body: dict, index: int) -> Reply:
        prompt = prompt_of(body)
        if prompt == "flaky" and not any(r.body and prompt_of(r.body) == "flaky" for r in llm.chat_requests[:index]):
            return Reply(status=503)  # the first call of this sample fails: retried after a back-off
        if prompt == "slow":  # nothing, not even headers, for 30 s: the overrun cuts the call on either driver
            return Reply(content="too late", delay=30)
        return Reply(content=f"answer to {prompt}", non_streamed=prompt == "json")

    llm = scripted_llm(reply)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": p} for p in ("flaky", "slow", "json")])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "r", "--driver", driver, "--sample-timeout", "3",
                   "--num-workers", "3", env={"HERMES_RETRY_BASE_DELAY": "0.1"})
    assert result.returncode == 1, result.stderr  # the slow one failed
    done = {r["conversations"][1]["value"]: r for r in records(tmp_path / "data/r/trajectories.jsonl")}
    assert done["flaky"]["conversations"][-1]["value"].endswith("answer to flaky")
    assert done["json"]["conversations"][-1]["value"].endswith("answer to json")
    failed = records(tmp_path / "data/r/failed.jsonl")
    assert [(f["reason"], f["error"]) for f in failed] == [("timeout", "no answer within 3 s")]
    assert failed[0]["duration_seconds"] < 20  # the overrun cut the 30 s wait (threads: agent/cancel.py)


def test_sample_timeout_kills_a_running_command_on_the_event_loop(scripted_llm, tmp_path):
    marker = tmp_path / "still-running"
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": f"sleep 30; touch {marker}"})])])
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": "hang"}])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "t", "--driver", "asyncio", "--sample-timeout", "1",
                   "--distribution", "terminal_only")
    assert result.returncode == 1
    (failed,) = records(tmp_path / "data/t/failed.jsonl")
    assert failed["reason"] == "timeout"
    assert failed["duration_seconds"] < 10  # stopped at 1 s, not after the 30 s command (start-up not counted)
    out = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True, text=True)
    assert out.stdout.strip() == "", "the timed-out command is still running"


def test_ctrl_c_on_the_event_loop_saves_what_finished_and_resume_completes(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content="ok", delay=0.2))
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(30)])
    returncode, stderr = interrupt_mid_run(llm, tmp_path, dataset, "--driver", "asyncio")
    out = tmp_path / "data/c/trajectories.jsonl"
    assert returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, stderr
    assert len(complete_records(out)) < 30, "the interrupt should land mid-run"
    resumed = batch(llm, tmp_path, str(dataset), "--run-name", "c", "--driver", "asyncio", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["prompt_index"] for r in records(out)) == list(range(30))


def test_auto_is_the_event_loop_unless_a_proxy_carries_the_calls(monkeypatch):
    from batch.aio import pick_driver

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert pick_driver("auto", "https://openrouter.ai/api/v1") == "asyncio"
    assert pick_driver("threads", "https://openrouter.ai/api/v1") == "threads"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert pick_driver("auto", "https://openrouter.ai/api/v1") == "threads"


@pytest.mark.parametrize("driver", ["asyncio", "threads"])
def test_secrets_reach_no_record_or_session_log_on_either_driver(scripted_llm, tmp_path, driver):
    """The run's redactor is made once (API key and the environment's secrets as the run starts)
    and redacts every sample's record and session log; parts with nothing to redact are kept as is."""
    env_secret = "acme-env-secret-5f9c2e71"

    def leaky(body: dict, index: int) -> Reply:
        if not any(m["role"] == "tool" for m in body["messages"]):
            return Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {env_secret} {KEY}"})])
        return Reply(content=f"the key is {KEY} and the token {env_secret}; the note says plain words")

    llm = scripted_llm(leaky)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"leak {i}", "note": env_secret} for i in range(3)])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "s", "--driver", driver,
                   "--distribution", "terminal_only", env={"ACME_SERVICE_TOKEN": env_secret})
    assert result.returncode == 0, result.stderr
    written = [path for path in (tmp_path / "data/s").rglob("*") if path.is_file()]
    assert any(path.name.startswith("session_") for path in written)
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert env_secret not in text and KEY not in text, path
    done = records(tmp_path / "data/s/trajectories.jsonl")
    assert len(done) == 3
    for record in done:
        assert record["conversations"][-1]["value"].endswith("; the note says plain words")
        assert "[REDACTED]" in record["conversations"][-1]["value"]
        assert record["metadata"]["note"] == "[REDACTED]"
        assert record["conversations"][1]["value"].startswith("leak ")  # untouched turns as they were


def test_quick_file_calls_run_on_the_loop_while_a_command_runs_beside_it(scripted_llm, tmp_path):
    """read_file/write_file/todo calls on local files run on the event loop's thread (no hand-over to
    a worker); a terminal command never does: a sample sleeping in bash must not hold up the others."""
    (tmp_path / "note.txt").write_text("a short note\n")

    def reply(body: dict, index: int) -> Reply:
        prompt, results = prompt_of(body), [m for m in body["messages"] if m["role"] == "tool"]
        if prompt == "slow" and not results:
            return Reply(tool_calls=[ToolCall("terminal", {"command": "sleep 4"})])
        steps = [ToolCall("read_file", {"path": str(tmp_path / "note.txt")}),
                 ToolCall("write_file", {"path": str(tmp_path / f"out-{prompt}.txt"), "content": prompt}),
                 ToolCall("todo", {"todos": [{"id": "1", "content": "check", "status": "completed"}]})]
        if prompt != "slow" and len(results) < len(steps):
            return Reply(tool_calls=[steps[len(results)]])
        return Reply(content=f"done {prompt}: " + " | ".join(m["content"][-120:] for m in results))

    llm = scripted_llm(reply)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": p, "toolsets": "terminal,file,todo"}
                                                    for p in ("slow", "fast1", "fast2", "fast3")])
    result = batch(llm, tmp_path, str(dataset), "--run-name", "q", "--driver", "asyncio", "--num-workers", "4")
    assert result.returncode == 0, result.stderr
    done = {r["conversations"][1]["value"]: r for r in records(tmp_path / "data/q/trajectories.jsonl")}
    assert set(done) == {"slow", "fast1", "fast2", "fast3"}
    for name in ("fast1", "fast2", "fast3"):
        assert (tmp_path / f"out-{name}.txt").read_text() == name
        assert "a short note" in done[name]["conversations"][-1]["value"]
        assert done[name]["tool_stats"]["todo"]["success"] == 1
        assert done[name]["duration_seconds"] < 3, "a quick sample waited for another sample's command"
    assert done["slow"]["duration_seconds"] >= 4


def test_the_event_loop_driver_leaves_the_collector_as_it_found_it(scripted_llm, tmp_path):
    # While samples run the collector scans less often (batch/aio.py GC_GEN0) and not what start-up
    # built; a library caller (an RL trainer running batches in its own process) gets both back.
    import gc

    import toolset_distributions
    from batch.aio import GC_GEN0
    from batch.dataset import load_dataset
    from batch.runner import BatchConfig, BatchRunner

    seen = []

    def answer(body: dict, index: int) -> Reply:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        return Reply(content="ok")

    llm = scripted_llm(answer)
    dataset = write_dataset(tmp_path / "p.jsonl", [{"prompt": f"task {i}"} for i in range(3)])
    config = BatchConfig(run_name="g", dataset=dataset, output_root=tmp_path / "data", model="m",
                         base_url=llm.base_url, api_key=KEY, driver="asyncio",
                         distribution=dict(toolset_distributions.DISTRIBUTIONS["terminal_only"]))
    before = gc.get_threshold()
    stats = BatchRunner(config, load_dataset(dataset)).run()
    assert stats["samples"]["completed"] == 3
    assert set(seen) == {(GC_GEN0, True)}  # read on the server's thread, in this process, mid-run
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
