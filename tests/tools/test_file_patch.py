"""patch: exact and whitespace-tolerant replacement, ambiguity, helpful misses, diffs, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

CODE = """def greet(name):
    if name:
        print("hello", name)
    return name


def other():
    return 1
"""


def test_exact_replacement_returns_a_diff(run_tool, workdir: Path):
    path = workdir / "m.py"
    path.write_text(CODE, encoding="utf-8")
    result = run_tool("patch", {"path": "m.py", "old_string": "return 1", "new_string": "return 2"})
    assert result["replacements"] == 1 and result["match"] == "exact"
    assert "-    return 1\n+    return 2\n" in result["diff"]
    assert result["diff"].startswith("--- a/m.py\n+++ b/m.py\n")
    assert path.read_text(encoding="utf-8") == CODE.replace("return 1", "return 2")


def test_ambiguous_match_is_refused_with_line_numbers(run_tool, workdir: Path):
    path = workdir / "dup.txt"
    path.write_text("x = 1\ny = 2\nx = 1\n", encoding="utf-8")
    result = run_tool("patch", {"path": "dup.txt", "old_string": "x = 1", "new_string": "x = 9"})
    assert "2 places" in result["error"] and "lines 1, 3" in result["error"]
    assert result["matches"] == 2
    assert path.read_text(encoding="utf-8") == "x = 1\ny = 2\nx = 1\n"


def test_replace_all(run_tool, workdir: Path):
    path = workdir / "dup.txt"
    path.write_text("x = 1\ny = 2\nx = 1\n", encoding="utf-8")
    result = run_tool("patch", {"path": "dup.txt", "old_string": "x = 1", "new_string": "x = 9", "replace_all": True})
    assert result["replacements"] == 2
    assert path.read_text(encoding="utf-8") == "x = 9\ny = 2\nx = 9\n"


def test_whitespace_tolerant_match_reindents_the_new_text(run_tool, workdir: Path):
    path = workdir / "m.py"
    path.write_text(CODE, encoding="utf-8")
    # The model dropped the function's indentation and doubled a space.
    old = 'if name:\n    print("hello",  name)\n'
    new = 'if name:\n    print("hi", name)\n    log(name)\n'
    result = run_tool("patch", {"path": "m.py", "old_string": old, "new_string": new})
    assert result["match"] == "whitespace-insensitive", result
    expected = CODE.replace(
        '    if name:\n        print("hello", name)\n',
        '    if name:\n        print("hi", name)\n        log(name)\n',
    )
    assert path.read_text(encoding="utf-8") == expected


def test_whitespace_tolerant_match_keeps_crlf(run_tool, workdir: Path):
    path = workdir / "win.txt"
    path.write_bytes(b"one\r\n  two\r\nthree\r\n")
    result = run_tool("patch", {"path": "win.txt", "old_string": "two\nthree", "new_string": "TWO\nTHREE"})
    assert result["replacements"] == 1
    assert path.read_bytes() == b"one\r\n  TWO\r\n  THREE\r\n"


def test_fuzzy_ambiguity_is_refused(run_tool, workdir: Path):
    path = workdir / "f.py"
    path.write_text("a:\n    pass\nb:\n        pass\n", encoding="utf-8")
    result = run_tool("patch", {"path": "f.py", "old_string": "  pass", "new_string": "  return"})
    assert "2 places" in result["error"] and "lines 2, 4" in result["error"]


def test_not_found_shows_the_closest_lines(run_tool, workdir: Path):
    (workdir / "m.py").write_text(CODE, encoding="utf-8")
    result = run_tool("patch", {"path": "m.py", "old_string": 'print("helo", nme)', "new_string": "x"})
    assert "not found" in result["error"]
    assert "lines 3-3" in result["error"] and 'print("hello", name)' in result["error"]


def test_delete_by_empty_new_string(run_tool, workdir: Path):
    path = workdir / "d.txt"
    path.write_text("keep\ndrop me\nkeep too\n", encoding="utf-8")
    run_tool("patch", {"path": "d.txt", "old_string": "drop me\n", "new_string": ""})
    assert path.read_text(encoding="utf-8") == "keep\nkeep too\n"


def test_patch_keeps_mode_and_non_utf8_bytes(run_tool, workdir: Path):
    path = workdir / "s.sh"
    path.write_bytes(b"#!/bin/sh\necho \xff\xfe\nexit 0\n")
    path.chmod(0o750)
    run_tool("patch", {"path": "s.sh", "old_string": "exit 0", "new_string": "exit 1"})
    assert path.read_bytes() == b"#!/bin/sh\necho \xff\xfe\nexit 1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert sorted(os.listdir(workdir)) == ["s.sh"]


def test_patch_errors(run_tool, workdir: Path):
    (workdir / "a.txt").write_text("text\n", encoding="utf-8")
    (workdir / "b.bin").write_bytes(b"\x00\x01")
    assert "file not found" in run_tool("patch", {"path": "nope.txt", "old_string": "a", "new_string": "b"})["error"]
    assert "binary" in run_tool("patch", {"path": "b.bin", "old_string": "a", "new_string": "b"})["error"]
    assert "write_file" in run_tool("patch", {"path": "a.txt", "old_string": "", "new_string": "b"})["error"]
    assert "identical" in run_tool("patch", {"path": "a.txt", "old_string": "text", "new_string": "text"})["error"]
    assert "whitespace" in run_tool("patch", {"path": "a.txt", "old_string": "  \n", "new_string": "b"})["error"]
