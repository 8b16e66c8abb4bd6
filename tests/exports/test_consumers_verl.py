"""verl rows against verl's own `AgentLoopOutput`, read from verl's wheel without importing verl
(its package needs torch and ray): the class definitions are taken from
`verl/experimental/agent_loop/agent_loop.py` with their methods removed and built with pydantic.

The wheel is $HERMES_VERL_WHEEL when set, else downloaded once per machine from PyPI
(`pip download --no-deps verl==0.9.1`, 1.7 MB) into ~/.cache/hermes-tests/verl-0.9.1/; when that
download fails (offline) the test is skipped with the reason.
"""

from __future__ import annotations

import ast
import os
import zipfile
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.exports.toolkit import export, record_session, tool_session_replies
from tests.registry_cache import cached_dir, pip_download

VERSION = "0.9.1"
SOURCE = "verl/experimental/agent_loop/agent_loop.py"
WHEEL = os.environ.get("HERMES_VERL_WHEEL")  # read at import: test fixtures clear HERMES_* variables


def verl_wheel() -> Path:
    """$HERMES_VERL_WHEEL, or verl's wheel from the per-machine cache (downloaded on first use)."""
    if WHEEL:
        if not Path(WHEEL).is_file():
            pytest.fail(f"HERMES_VERL_WHEEL={WHEEL} is not a file: point it at verl's wheel or unset it")
        return Path(WHEEL)
    directory = cached_dir(f"verl-{VERSION}", f"verl {VERSION}'s wheel",
                           lambda into: pip_download(f"verl=={VERSION}", into))
    return directory / f"verl-{VERSION}-py3-none-any.whl"


def verl_models() -> dict[str, Any]:
    """verl's AgentLoopMetrics and AgentLoopOutput, rebuilt from the wheel's source without their methods."""
    wheel = verl_wheel()
    with zipfile.ZipFile(wheel) as archive:
        tree = ast.parse(archive.read(SOURCE).decode("utf-8"))
    keep = [node for node in tree.body if isinstance(node, ast.ClassDef)
            and node.name in ("AgentLoopMetrics", "AgentLoopOutput")]
    for node in keep:
        node.body = [n for n in node.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] or [ast.Pass()]
        node.decorator_list = []
    from pydantic import BaseModel, ConfigDict

    scope: dict[str, Any] = {"BaseModel": BaseModel, "ConfigDict": ConfigDict, "Any": Any, "Optional": Optional}
    exec(compile(ast.Module(body=keep, type_ignores=[]), SOURCE, "exec", dont_inherit=True), scope)  # noqa: S102
    return scope


def test_verl_rows_validate_as_agent_loop_output(scripted_llm, vllm, log_dir, chat_tok, tmp_path):
    models = verl_models()
    log = record_session(scripted_llm(tool_session_replies(), **vllm.server_kwargs()), "6*7?", log_dir,
                         token_capture=True)
    (record,) = export(log, chat_tok, tmp_path / "r.jsonl")
    (row,) = export(log, chat_tok, tmp_path / "v.jsonl", fmt="verl")
    output = models["AgentLoopOutput"](**row)
    assert output.prompt_ids + output.response_ids == record["tokens"]
    assert set(output.response_mask) <= {0, 1} and len(output.response_mask) == len(output.response_ids)
    assert all(lp == 0.0 for lp, m in zip(output.response_logprobs, output.response_mask, strict=True) if not m)
