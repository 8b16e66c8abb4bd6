"""search_files with ripgrep and with the pure-Python fallback: same results, same shapes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import file_search

HAS_RG = shutil.which("rg") is not None


@pytest.fixture(params=["rg", "python"])
def engine(request, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "rg":
        if not HAS_RG:
            pytest.skip("ripgrep (rg) is not installed")
        monkeypatch.setattr(file_search, "USE_RG", True)
        assert file_search.rg_path()
    else:
        monkeypatch.setattr(file_search, "USE_RG", False)
        assert file_search.rg_path() is None
    return request.param


@pytest.fixture
def tree(workdir: Path) -> Path:
    files = {
        "app.py": "import os\n\ndef main():\n    return os.getcwd()  # TODO tidy\n",
        "src/util.py": "def helper():\n    pass  # TODO later\n",
        "src/deep/mod.py": "VALUE = 42\n",
        "docs/notes.txt": "TODO: write docs\nnothing here\n",
        "docs/readme.md": "# Title\n",
        ".hidden/secret.py": "TODO hidden\n",
        "node_modules/lib/index.js": "// TODO vendored\n",
        "__pycache__/x.py": "TODO cached\n",
    }
    for rel, text in files.items():
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (workdir / "blob.bin").write_bytes(b"TODO\x00binary")
    return workdir


def test_content_search(run_tool, tree: Path, engine: str):
    result = run_tool("search_files", {"pattern": r"TODO"})
    assert result == {
        "matches": [
            {"path": "app.py", "line": 4, "text": "    return os.getcwd()  # TODO tidy"},
            {"path": "docs/notes.txt", "line": 1, "text": "TODO: write docs"},
            {"path": "src/util.py", "line": 2, "text": "    pass  # TODO later"},
        ],
        "truncated": False,
    }


def test_content_search_with_glob_path_and_limit(run_tool, tree: Path, engine: str):
    only_py = run_tool("search_files", {"pattern": "TODO", "glob": "*.py"})
    assert [m["path"] for m in only_py["matches"]] == ["app.py", "src/util.py"]
    under_src = run_tool("search_files", {"pattern": r"def \w+", "path": "src"})
    assert under_src["matches"] == [{"path": "src/util.py", "line": 1, "text": "def helper():"}]
    limited = run_tool("search_files", {"pattern": "TODO", "limit": 2})
    assert len(limited["matches"]) == 2 and limited["truncated"] is True
    one_file = run_tool("search_files", {"pattern": "VALUE", "path": "src/deep/mod.py"})
    assert one_file["matches"] == [{"path": "src/deep/mod.py", "line": 1, "text": "VALUE = 42"}]


def test_content_search_paths_outside_the_cwd_are_absolute(run_tool, tree: Path, tmp_path: Path, engine: str):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.txt").write_text("needle\n", encoding="utf-8")
    result = run_tool("search_files", {"pattern": "needle", "path": str(outside)})
    assert result["matches"] == [{"path": str(outside / "o.txt"), "line": 1, "text": "needle"}]


def test_no_matches(run_tool, tree: Path, engine: str):
    assert run_tool("search_files", {"pattern": "zzz_not_there"}) == {"matches": [], "truncated": False}


def test_invalid_regex_is_an_error(run_tool, tree: Path, engine: str):
    assert "error" in run_tool("search_files", {"pattern": "(unclosed"})


def test_file_search(run_tool, tree: Path, engine: str):
    assert run_tool("search_files", {"pattern": "*.py", "target": "files"}) == {
        "files": ["app.py", "src/deep/mod.py", "src/util.py"],
        "truncated": False,
    }
    anchored = run_tool("search_files", {"pattern": "src/*.py", "target": "files"})
    assert anchored["files"] == ["src/util.py"]
    recursive = run_tool("search_files", {"pattern": "src/**/*.py", "target": "files"})
    assert recursive["files"] == ["src/deep/mod.py", "src/util.py"]
    by_name = run_tool("search_files", {"pattern": "notes", "target": "files"})
    assert by_name["files"] == ["docs/notes.txt"]
    braces = run_tool("search_files", {"pattern": "*.{md,txt}", "target": "files", "limit": 1})
    assert braces == {"files": ["docs/notes.txt"], "truncated": True}


def test_search_errors(run_tool, tree: Path, engine: str):
    assert "file not found" in run_tool("search_files", {"pattern": "x", "path": "nope"})["error"]
    assert "not a directory" in run_tool("search_files", {"pattern": "x", "target": "files", "path": "app.py"})["error"]
    assert "target must be" in run_tool("search_files", {"pattern": "x", "target": "names"})["error"]


def test_fallback_skips_large_files(run_tool, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(file_search, "USE_RG", False)
    monkeypatch.setattr(file_search, "MAX_FILE_BYTES", 100)
    (workdir / "big.txt").write_text("needle\n" + "x" * 200, encoding="utf-8")
    (workdir / "small.txt").write_text("needle\n", encoding="utf-8")
    assert [m["path"] for m in run_tool("search_files", {"pattern": "needle"})["matches"]] == ["small.txt"]


def test_long_matching_lines_are_clipped(run_tool, workdir: Path, engine: str):
    (workdir / "min.js").write_text("needle" + "x" * 5000 + "\n", encoding="utf-8")
    text = run_tool("search_files", {"pattern": "needle"})["matches"][0]["text"]
    assert len(text) < 400 and text.endswith("[...]")
