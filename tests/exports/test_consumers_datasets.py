"""Every export loads with HF `datasets` (the version the dev extra installs), one file at a time and
several files together (files of different runs must share one schema: one type per key, no
column that is null or empty in every row of one file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.compression import SUMMARY_INSTRUCTIONS
from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY, export

FORMATS = ["sharegpt", "openai", "messages", "atif", "rollout", "atropos", "verl"]


def responder(body: dict, index: int) -> Reply:
    if body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS:
        return Reply("They ran echo.")
    if body["messages"][-1]["role"] == "tool":
        return Reply(f"Done ({index}).", reasoning="It worked." if index % 2 else None)
    return Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])


def run(llm, directory: Path, *, capture: bool, compress: bool = False, toolsets: bool = False) -> None:
    from run_agent import AIAgent

    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"],
                    token_capture=capture, log_directory=directory)
    for prompt in ("one", "two", "three"):
        agent.chat(prompt)
        if toolsets and prompt == "one":
            agent.set_toolsets(["terminal", "file"])
    if compress:
        assert agent.compress() is not None
        agent.chat("four")
    agent.close()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, request):
    """Two log dirs: one of plain sessions without server ids, one with ids, compaction, /toolsets."""
    from scripted_server import ScriptedLLM
    from tests.exports.toolkit import HERMES_TEMPLATE, VllmHooks

    root = tmp_path_factory.mktemp("runs")
    tok_dir = request.getfixturevalue("tok_dir")
    hf_tok = request.getfixturevalue("hf_tok")
    hooks = VllmHooks(hf_tok, HERMES_TEMPLATE)
    with ScriptedLLM(responder, **hooks.server_kwargs()) as llm:
        run(llm, root / "a", capture=False)
        run(llm, root / "b", capture=True, compress=True)
        run(llm, root / "b", capture=True, toolsets=True)
    return root, tok_dir


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_alone_and_together(two_runs, tmp_path, fmt, monkeypatch):
    import datasets

    from exports.tokenizer import load_tokenizer

    datasets.disable_progress_bars()
    root, tok_dir = two_runs
    tok = load_tokenizer(str(tok_dir))
    files = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.{fmt}.jsonl"
        rows = []
        for log in sorted((root / name).glob("session_*.jsonl")):
            part = tmp_path / f"{log.stem}.{fmt}.part"
            rows += export(log, tok, part, fmt=fmt)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files.append(out)
    orders = [[files[0]], [files[1]], files[::-1]]
    if fmt not in ("atropos", "verl"):
        # Atropos' inference_logprobs and verl's response_logprobs are null when the server gave
        # no logprobs (both trainers then recompute them; a filler would be read as the policy's):
        # a file whose rows all lack them types the column null, so it cannot come first.
        orders.append(files)
    for index, group in enumerate(orders):
        monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / f"cache{index}"))
        ds = datasets.load_dataset("json", data_files=[str(f) for f in group], split="train",
                                   cache_dir=str(tmp_path / f"cache{index}"))
        lines = [json.loads(line) for f in group for line in f.read_text(encoding="utf-8").splitlines()]
        assert len(ds) == len(lines)
        key = {"sharegpt": "conversations", "atif": "steps", "rollout": "tokens", "atropos": "tokens",
               "verl": "response_ids"}.get(fmt, "messages")
        assert _plain(ds[0][key]) == _plain(lines[0][key])


def _plain(value):
    """datasets fills absent struct keys with None; compare what the row said."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def test_the_suite_runs_the_datasets_range_pyproject_declares():
    """The range in the dev extra is the range these tests cover: 5.2.0 is both its floor and the
    newest release tested; 3.x, which the old `>=2.19` allowed, types tool schemas wrongly."""
    import tomllib

    import datasets

    root = Path(__file__).resolve().parents[2]
    dev = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["dev"]
    assert [d for d in dev if d.startswith("datasets")] == ["datasets>=5.2,<6"]
    assert (5, 2) <= tuple(int(p) for p in datasets.__version__.split(".")[:2]) < (6, 0)
