"""Fixtures of the export tests: an offline tokenizer (trained once per test session), a HF cache
inside the test's temp dir, vLLM-like token hooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.exports.toolkit import HERMES_TEMPLATE, THINK_LAST_ONLY_TEMPLATE, VllmHooks, build_tokenizer

# Nothing in these tests may reach the Hugging Face hub; subprocesses inherit this.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def private_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))


@pytest.fixture(scope="session")
def tok_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer directory (tokenizer.json, config, chat_template.jinja) trained here, offline."""
    directory = tmp_path_factory.mktemp("tokenizer")
    build_tokenizer(directory)
    return directory


@pytest.fixture(scope="session")
def hf_tok(tok_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tok_dir))


@pytest.fixture(scope="session")
def chat_tok(tok_dir: Path):
    from exports.tokenizer import load_tokenizer

    return load_tokenizer(str(tok_dir))


@pytest.fixture(scope="session")
def think_last_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("templates") / "think_last_only.jinja"
    path.write_text(THINK_LAST_ONLY_TEMPLATE, encoding="utf-8")
    return path


@pytest.fixture
def vllm(hf_tok) -> VllmHooks:
    """Token hooks rendering prompts with the Hermes template (prefix-stable)."""
    return VllmHooks(hf_tok, HERMES_TEMPLATE)
