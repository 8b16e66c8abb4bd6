"""A batch run on the Modal backend: every sample takes a sandbox from the warm pool and gives it back.

Same stand-in at the SDK boundary as test_modal_backend.py; the batch runner runs in this process so
the stand-in is the SDK it sees. The LLM is the scripted server, the commands run for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import toolset_distributions
from batch.dataset import load_dataset
from batch.runner import BatchConfig, BatchRunner
from scripted_server import Reply, ToolCall


def test_samples_share_a_bounded_warm_pool(fake_modal, scripted_llm, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TERMINAL_MODAL_PROFILE_DEFAULT_MAX_POOL", "2")

    def reply(body: dict, index: int) -> Reply:
        if any(m["role"] == "tool" for m in body["messages"]):
            return Reply(content="ok")
        return Reply(tool_calls=[ToolCall("terminal", {"command": "echo in-sandbox; export MINE=1"})])

    peak = []
    create = fake_modal.create_sandbox

    def counting_create(profile, name):
        sandbox = create(profile, name)
        peak.append(len(fake_modal.alive()))
        return sandbox

    monkeypatch.setattr(fake_modal, "create_sandbox", counting_create)
    llm = scripted_llm(reply)
    dataset = tmp_path / "p.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"p {i}"}) + "\n" for i in range(6)), encoding="utf-8")
    config = BatchConfig(run_name="m", dataset=dataset, output_root=tmp_path / "data", model="m",
                         base_url=llm.base_url, api_key="x", num_workers=4, max_turns=4,
                         distribution=dict(toolset_distributions.DISTRIBUTIONS["terminal_only"]))
    stats = BatchRunner(config, load_dataset(dataset)).run()
    assert stats["samples"]["completed"] == 6
    rows = [json.loads(line) for line in (tmp_path / "data/m/trajectories.jsonl").read_text().splitlines()]
    assert all("in-sandbox" in r["conversations"][3]["value"] for r in rows)
    # one fresh sandbox per sample (never reused across tasks), never more than max_pool at once,
    # each terminated when its sample finished
    assert len(fake_modal.created) == 6 and max(peak) <= 2
    assert fake_modal.alive() == []
