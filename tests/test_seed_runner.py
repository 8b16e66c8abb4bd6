"""The seed-compatible direct runner: `python run_agent.py --query ... --save_trajectories`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripted_server import Reply

ROOT = Path(__file__).resolve().parent.parent


def test_run_agent_py_answers_and_appends_a_redacted_trajectory(scripted_llm, hermetic_env, tmp_path: Path):
    llm = scripted_llm([Reply(content="forty-two")])
    key = "sk-seed-runner-secret-0123456789"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_agent.py"), "--query", "what is 6*7?", "--model", "scripted-model",
         "--base_url", llm.base_url, "--api_key", key, "--save_trajectories", "--enabled_toolsets", "file"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**os.environ, "HERMES_LOG_DIR": str(tmp_path / "logs")},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "forty-two"
    text = (tmp_path / "trajectory_samples.jsonl").read_text(encoding="utf-8")
    record = json.loads(text)
    assert record["completed"] is True and record["model"] == "scripted-model"
    assert record["conversations"][-1]["from"] == "gpt" and record["conversations"][-1]["value"].endswith("forty-two")
    assert key not in text
