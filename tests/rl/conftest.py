"""rl tests: a toy tokenizer trained here (offline), saved as a directory and loaded as the proxy would."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the Hugging Face hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).parent))  # standin.py

# Found, not imported: transformers takes ~1.5 CPU-s to import, which collection would pay in every
# xdist worker; the tests that need it import it when they run.
for _needed in ("tokenizers", "transformers"):
    if importlib.util.find_spec(_needed) is None:
        pytest.skip(f"{_needed} is not installed (it is in the dev extra)", allow_module_level=True)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from exports.toy_tokenizer import build_toy_tokenizer

    directory = tmp_path_factory.mktemp("toy_tokenizer")
    build_toy_tokenizer().save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def chat_tokenizer(tokenizer_dir: Path):
    from exports.tokenizer import load_tokenizer

    return load_tokenizer(str(tokenizer_dir))
