"""read_file and write_file on real files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tools.registry import REGISTRY


def test_read_numbers_lines_like_cat_n(run_tool, workdir: Path):
    (workdir / "a.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    result = run_tool("read_file", {"path": "a.txt"})
    assert result["content"] == "     1\talpha\n     2\tbeta"
    assert result["total_lines"] == 2
    assert result["path"] == str(workdir / "a.txt")
    assert "next_offset" not in result


def test_read_pages_with_offset_and_limit(run_tool, workdir: Path):
    (workdir / "many.txt").write_text("".join(f"line {i}\n" for i in range(1, 1201)), encoding="utf-8")
    first = run_tool("read_file", {"path": "many.txt"})
    assert first["content"].splitlines()[-1] == "   500\tline 500"
    assert first["next_offset"] == 501 and first["total_lines"] == 1200
    assert "offset=501" in first["note"]
    page = run_tool("read_file", {"path": "many.txt", "offset": 1190, "limit": 5})
    assert page["content"].splitlines() == [f"{n:6d}\tline {n}" for n in range(1190, 1195)]
    assert page["next_offset"] == 1195
    tail = run_tool("read_file", {"path": "many.txt", "offset": 1199})
    assert "next_offset" not in tail and tail["content"].endswith("line 1200")


def test_read_offset_past_the_end(run_tool, workdir: Path):
    (workdir / "short.txt").write_text("one\n", encoding="utf-8")
    result = run_tool("read_file", {"path": "short.txt", "offset": 10})
    assert "past the end" in result["error"] and result["total_lines"] == 1


def test_read_cuts_long_lines_with_a_marker(run_tool, workdir: Path):
    (workdir / "long.txt").write_text("x" * 5000 + "\nshort\n", encoding="utf-8")
    lines = run_tool("read_file", {"path": "long.txt"})["content"].splitlines()
    assert lines[0].startswith("     1\t" + "x" * 2000)
    assert "line truncated, 3000 more characters" in lines[0]
    assert lines[1] == "     2\tshort"


def test_read_handles_crlf_and_no_final_newline(run_tool, workdir: Path):
    (workdir / "crlf.txt").write_bytes(b"a\r\nb")
    result = run_tool("read_file", {"path": "crlf.txt"})
    assert result["content"] == "     1\ta\n     2\tb" and result["total_lines"] == 2


def test_read_empty_file(run_tool, workdir: Path):
    (workdir / "empty.txt").write_text("", encoding="utf-8")
    result = run_tool("read_file", {"path": "empty.txt"})
    assert result["total_lines"] == 0 and result["content"] == ""


def test_read_refuses_binary_files(run_tool, workdir: Path):
    (workdir / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert "binary file" in run_tool("read_file", {"path": "blob.bin"})["error"]


def test_read_missing_file_suggests_similar_names(run_tool, workdir: Path):
    (workdir / "config.yaml").write_text("a: 1\n", encoding="utf-8")
    error = run_tool("read_file", {"path": "config.yml"})["error"]
    assert "file not found" in error and "config.yaml" in error


def test_read_directory_is_an_error(run_tool, workdir: Path):
    assert "is a directory" in run_tool("read_file", {"path": "."})["error"]


def test_read_follows_the_terminal_cwd(run_tool, workdir: Path):
    (workdir / "sub").mkdir()
    (workdir / "sub" / "here.txt").write_text("inside\n", encoding="utf-8")
    run_tool("terminal", {"command": "cd sub"}, task_id="nav")
    assert run_tool("read_file", {"path": "here.txt"}, task_id="nav")["content"] == "     1\tinside"
    assert "error" in run_tool("read_file", {"path": "here.txt"}, task_id="elsewhere")


def test_write_creates_parents_and_reports(run_tool, workdir: Path):
    result = run_tool("write_file", {"path": "new/dir/file.txt", "content": "héllo\n"})
    target = workdir / "new" / "dir" / "file.txt"
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert result == {"path": str(target), "bytes_written": 7, "action": "created"}
    again = run_tool("write_file", {"path": "new/dir/file.txt", "content": "x"})
    assert again["action"] == "overwrote" and target.read_text(encoding="utf-8") == "x"
    assert sorted(os.listdir(target.parent)) == ["file.txt"]  # no temp files left behind


def test_write_keeps_mode_and_symlinks(run_tool, workdir: Path):
    script = workdir / "run.sh"
    script.write_text("old\n", encoding="utf-8")
    script.chmod(0o755)
    link = workdir / "link.sh"
    link.symlink_to(script)
    run_tool("write_file", {"path": "link.sh", "content": "#!/bin/sh\necho new\n"})
    assert link.is_symlink()
    assert script.read_text(encoding="utf-8") == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_write_new_file_gets_normal_permissions(run_tool, workdir: Path):
    run_tool("write_file", {"path": "plain.txt", "content": "x"})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((workdir / "plain.txt").stat().st_mode) == 0o666 & ~umask


def test_write_errors(run_tool, workdir: Path):
    assert "is a directory" in run_tool("write_file", {"path": ".", "content": "x"})["error"]
    assert "content must be a string" in run_tool("write_file", {"path": "a", "content": 3})["error"]
    (workdir / "blocker").write_text("", encoding="utf-8")
    assert "cannot write" in run_tool("write_file", {"path": "blocker/child.txt", "content": "x"})["error"]


def test_file_schemas_are_small():
    for name in ("read_file", "write_file", "patch", "search_files"):
        assert len(json.dumps(REGISTRY[name].schema())) < 700, name


def test_read_refuses_pipes_instead_of_hanging(run_tool, workdir: Path):
    os.mkfifo(workdir / "fifo")
    assert "not a regular file" in run_tool("read_file", {"path": "fifo"})["error"]
