"""Every export loads with HF `datasets` (the version the dev extra installs), one file at a time and
several files together, in either order (files of different runs must share one schema: one type
per key, no column that is null or empty in every row of one file). The token formats keep null
logprobs and rewards where there are none (a filler would be read as real), so they load with
`exports.features.features_for(fmt)`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from agent.compression import SUMMARY_INSTRUCTIONS
from exports.features import FORMATS as FEATURE_FORMATS
from exports.features import features_for
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
            # run b is rewarded, run a is not: `reward` is null in every row of a's file
            rewards = {log.stem.removeprefix("session_"): 0.5} if name == "b" else {}
            rows += export(log, tok, part, fmt=fmt, rewards=rewards)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files.append(out)
    features = features_for(fmt) if fmt in FEATURE_FORMATS else None
    for index, group in enumerate([[files[0]], [files[1]], files, files[::-1]]):
        monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / f"cache{index}"))
        ds = datasets.load_dataset("json", data_files=[str(f) for f in group], split="train",
                                   cache_dir=str(tmp_path / f"cache{index}"), features=features)
        lines = [json.loads(line) for f in group for line in f.read_text(encoding="utf-8").splitlines()]
        assert len(ds) == len(lines)
        if features is None:
            key = {"sharegpt": "conversations", "atif": "steps"}.get(fmt, "messages")
            assert _plain(ds[0][key]) == _plain(lines[0][key])
            continue
        # every value of every row round-trips (nulls stay null: no filler logprob or reward)
        assert [_plain(row) for row in ds] == [_plain(line) for line in lines]
        if fmt == "atropos" and importlib.util.find_spec("atroposlib") is not None:
            from atroposlib.api.server import ScoredData

            for row in ds:
                ScoredData(**row)
    if fmt in FEATURE_FORMATS:
        a_rows, b_rows = ([json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()] for f in files)
        column = {"rollout": "reward", "atropos": "inference_logprobs", "verl": "response_logprobs"}[fmt]
        # the case the features exist for: the column is null in all of a's rows, set in b's
        assert all(r[column] is None for r in a_rows) and any(r[column] is not None for r in b_rows)


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
