"""ATIF exports of recorded sessions (tool calls, parallel calls, reasoning, server token ids,
`/toolsets`, a compaction, text-mode calls) against Harbor's own `TrajectoryValidator` and the `atif`
package's pydantic models.

Harbor requires Python >= 3.12 and the suite runs on 3.11, so both run in their own virtualenv,
created once per machine in ~/.cache/hermes-tests/venv-harbor (`pip install harbor atif`, through
tests/registry_cache.py; later runs reuse it). Without a 3.12+ interpreter, or when the install fails, the test is skipped with the reason.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.compression import SUMMARY_INSTRUCTIONS
from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY
from tests.registry_cache import CACHE, MARKER, cached_dir, run_step

VENV = CACHE / "venv-harbor"
PACKAGES = ["harbor", "atif"]

# Runs inside the Harbor venv: every document through both validators, one JSON verdict per file.
CHECK = """
import json, sys
import atif
from harbor.utils.trajectory_validator import TrajectoryValidator
out = {}
for path in sys.argv[1:]:
    doc = json.loads(open(path, encoding="utf-8").read())
    validator = TrajectoryValidator()
    ok = validator.validate(doc)
    try:
        atif.Trajectory.model_validate(doc)
        atif_error = None
    except Exception as exc:
        atif_error = str(exc)
    out[path] = {"harbor": bool(ok), "harbor_errors": [str(e) for e in validator.errors], "atif": atif_error}
print(json.dumps(out))
"""


def python_312() -> str | None:
    """A working CPython >= 3.12 on this machine: one pyenv installed, or on PATH (a pyenv shim for a
    version that is not installed exists but fails, hence the check)."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(glob.glob(str(root / "versions" / "3.1[2-9]*" / "bin" / "python")))
    candidates += [found for name in ("python3.12", "python3.13") if (found := shutil.which(name))]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "import sys, venv; assert sys.version_info >= (3, 12)"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


def harbor_python() -> Path:
    """The cached venv's interpreter, creating the venv on first use (skips with the reason)."""
    if not (VENV / MARKER).is_file():
        base = python_312()
        if base is None:
            pytest.skip("Harbor needs Python >= 3.12 and none is installed (no python3.12/3.13 on PATH or in pyenv)")

        def fill(staging: Path) -> None:
            run_step([base, "-m", "venv", str(staging)])
            run_step([str(staging / "bin" / "python"), "-m", "pip", "install", "-q", *PACKAGES])

        # bin/python finds its prefix from pyvenv.cfg beside it: renaming the staged venv is safe
        cached_dir(VENV.name, "Harbor and atif (a venv with pip install " + " ".join(PACKAGES) + ")", fill)
    return VENV / "bin" / "python"


def responder(body: dict, index: int) -> Reply:
    """Reasoning + a tool call per prompt (two in parallel on the second), text-mode on the third."""
    if body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS:
        return Reply("They ran echo.")
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Reply(f"Done ({index}).", reasoning="It worked.")
    if "parallel" in last["content"]:
        return Reply(reasoning="Two at once.", tool_calls=[ToolCall("terminal", {"command": "echo a"}, id=f"a{index}"),
                                                           ToolCall("terminal", {"command": "echo b"}, id=f"b{index}")])
    if "text mode" in last["content"]:
        call = '<tool_call>\n{"name": "terminal", "arguments": {"command": "echo t"}}\n</tool_call>'
        return Reply(call)
    return Reply(reasoning="I should run it.", tool_calls=[ToolCall("terminal", {"command": f"echo {index}"},
                                                                     id=f"call_{index}")])


@pytest.fixture(scope="module")
def atif_files(tmp_path_factory, request) -> list[Path]:
    """Several recorded sessions, each exported to one ATIF document file."""
    from exports.pipeline import ExportOptions, run_export
    from exports.writer import JsonlWriter
    from run_agent import AIAgent
    from scripted_server import ScriptedLLM
    from tests.exports.toolkit import HERMES_TEMPLATE, VllmHooks

    root = tmp_path_factory.mktemp("harbor")
    hooks = VllmHooks(request.getfixturevalue("hf_tok"), HERMES_TEMPLATE)
    logs = root / "logs"
    plans = {
        "plain": dict(prompts=["one", "parallel please"]),
        "token_ids": dict(prompts=["one", "two"], token_capture=True),
        "compacted": dict(prompts=["one", "two", "three"], compress=True, token_capture=True),
        "toolsets_text_mode": dict(prompts=["one", "text mode now"], toolsets=True),
    }
    files = []
    with ScriptedLLM(responder, **hooks.server_kwargs()) as llm:
        for name, plan in plans.items():
            agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"],
                            token_capture=plan.get("token_capture", False), log_directory=logs / name)
            for prompt in plan["prompts"]:
                agent.chat(prompt)
                if plan.get("toolsets"):
                    agent.set_toolsets(["terminal", "file"])
            if plan.get("compress"):
                assert agent.compress() is not None
                agent.chat("four")
            agent.close()
            out = root / f"{name}.jsonl"
            report = run_export(sorted((logs / name).glob("session_*.jsonl")), ExportOptions(fmt="atif"),
                                JsonlWriter(str(out)))
            assert not report.failures, report.failures
            (line,) = out.read_text(encoding="utf-8").splitlines()
            path = root / f"{name}.json"
            path.write_text(line, encoding="utf-8")
            files.append(path)
    return files


@pytest.mark.timeout(900)  # the first run on a machine installs Harbor; later runs take seconds
def test_harbor_and_atif_accept_every_exported_trajectory(atif_files):
    python = harbor_python()
    proc = subprocess.run([str(python), "-c", CHECK, *map(str, atif_files)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    verdicts = json.loads(proc.stdout.strip().splitlines()[-1])
    for path, verdict in verdicts.items():
        assert verdict == {"harbor": True, "harbor_errors": [], "atif": None}, (Path(path).name, verdict)

    docs = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in atif_files}
    compacted = docs["compacted"]["steps"]
    assert any(s.get("is_copied_context") for s in compacted)
    assert any("context_management" in (s.get("extra") or {}) for s in compacted)
    agent_steps = [s for s in docs["token_ids"]["steps"] if s["source"] == "agent"]
    assert all(len(s["metrics"]["logprobs"]) == len(s["metrics"]["completion_token_ids"]) for s in agent_steps)
    assert any(s.get("reasoning_content") for s in agent_steps)
    parallel = next(s for s in docs["plain"]["steps"] if len(s.get("tool_calls") or []) == 2)
    assert len(parallel["observation"]["results"]) == 2
    calls = [c for s in docs["toolsets_text_mode"]["steps"] for c in s.get("tool_calls") or []]
    assert {"command": "echo t"} in [c["arguments"] for c in calls]  # the text-mode call, structured
