"""The cost of asking stays small: a normal 20-call coding session (bench/bench_prompts.py) shows at
most 7 prompts in `ask` answering "once" (every edit plus one `rm -r`) and 1 in `auto-edit`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bench_prompts import count_prompts  # noqa: E402


@pytest.mark.parametrize("mode, answer, most", [("ask", "once", 7), ("ask", "session", 2), ("auto-edit", "once", 1)])
def test_prompts_per_normal_session(tmp_path, monkeypatch, mode: str, answer: str, most: int) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    for name in ("TERMINAL_CWD", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(name, "bench" if name.startswith("GIT") else str(tmp_path))  # restored afterwards
    shown, failed = count_prompts(mode, answer)
    assert failed == 0
    assert shown == most
