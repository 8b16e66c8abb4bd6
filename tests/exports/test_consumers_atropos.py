"""The `atropos` export against atroposlib itself: its API's `ScoredData` model, a round trip through
its API server in process (register a trainer, post the groups, take the batch), and its HTML viewer."""

from __future__ import annotations

import importlib.util

import pytest

from tests.exports.toolkit import atropos_batch, record_session, tool_session_replies

if importlib.util.find_spec("atroposlib") is None:
    pytest.skip("atroposlib is not installed (it is in the dev extra)", allow_module_level=True)


def test_groups_pass_atroposlib_and_its_api_server(scripted_llm, vllm, log_dir, chat_tok, tmp_path):
    from atroposlib.api import server as api
    from atroposlib.frontend.jsonl2html import generate_html

    logs = []
    for _ in range(2):  # two attempts at one prompt: one group of two, scored differently
        llm = scripted_llm(tool_session_replies(), **vllm.server_kwargs())
        logs.append(record_session(llm, "What is 6*7?", log_dir, token_capture=True))
    rewards = {log.stem.removeprefix("session_"): float(i) for i, log in enumerate(logs)}
    from exports.pipeline import ExportOptions, run_export
    from exports.writer import JsonlWriter

    out = tmp_path / "groups.jsonl"
    run_export(logs, ExportOptions(fmt="atropos", tokenizer=chat_tok, rewards=rewards, group_by="prompt"),
               JsonlWriter(str(out)))
    import json

    (group,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    api.ScoredData(**group)  # the API's own validation
    assert group["group_overrides"] == {"group_size": 2} and sorted(group["scores"]) == [0.0, 1.0]

    batch = atropos_batch(group, tmp_path)
    assert batch is not None
    delivered = [(t, m) for g in batch for t, m in zip(g["tokens"], g["masks"], strict=True)]
    assert delivered == list(zip(group["tokens"], group["masks"], strict=True))

    generate_html(str(out), str(tmp_path / "view.html"))  # the viewer reads `messages`
    assert "What is 6*7?" in (tmp_path / "view.html").read_text(encoding="utf-8")
