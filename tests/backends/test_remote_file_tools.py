"""The file tools act where the terminal runs: inside the container, on the SSH host, in the sandbox."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest

from tools import file_search
from tools.environments import manager


@pytest.fixture(params=["ssh", "docker"])
def remote(request: pytest.FixtureRequest, run_tool) -> Iterator[str]:
    """A fresh directory on the remote side, once over SSH (ripgrep on the host) and once in Docker
    (busybox only: the grep fallback). Our sshd is on loopback, so its /tmp is this machine's."""
    request.getfixturevalue(f"{request.param}_env")
    d = f"/tmp/hermes-ft-{uuid.uuid4().hex[:10]}"
    _sh(run_tool, f"mkdir -p {d}")
    yield d
    run_tool("terminal", {"command": f"rm -rf {d}"})


def _sh(run_tool, command: str) -> dict:
    result = run_tool("terminal", {"command": command})
    assert result["exit_code"] == 0, result
    return result


def test_write_file_is_seen_by_the_terminal(run_tool, remote: str) -> None:
    _sh(run_tool, f"mkdir -p {remote}/proj && cd {remote}/proj")
    written = run_tool("write_file", {"path": "sub/hello.sh", "content": "echo hi from $0\n"})
    assert written["action"] == "created" and written["bytes_written"] == 16
    cwd = manager.get_environment("t").cwd
    assert written["path"] == f"{cwd}/sub/hello.sh"
    assert _sh(run_tool, "cat sub/hello.sh && bash sub/hello.sh && stat -c %a sub/hello.sh")["output"] == (
        "echo hi from $0\nhi from sub/hello.sh\n644\n")
    again = run_tool("write_file", {"path": "sub/hello.sh", "content": "é\n"})
    assert again["action"] == "overwrote"
    assert _sh(run_tool, "od -An -tx1 sub/hello.sh")["output"].split() == ["c3", "a9", "0a"]
    if manager.get_environment("t").backend == "docker":
        assert not os.path.exists(written["path"])  # in the container, not on this machine


def test_terminal_file_is_read_with_line_numbers(run_tool, remote: str) -> None:
    _sh(run_tool, f"cd {remote} && printf 'one\\ntwo\\nthree' > notes.txt")
    result = run_tool("read_file", {"path": "notes.txt", "offset": 2})
    assert result["path"] == f"{remote}/notes.txt"
    assert result["content"] == "     2\ttwo\n     3\tthree" and result["total_lines"] == 3
    # Not UTF-8: replaced as locally, not an error.
    _sh(run_tool, "printf 'caf\\351\\n' > latin1.txt")
    assert run_tool("read_file", {"path": f"{remote}/latin1.txt"})["content"] == "     1\tcaf\ufffd"
    _sh(run_tool, "printf 'a\\000b' > blob.bin")
    error = run_tool("read_file", {"path": "blob.bin"})["error"]
    assert error == f"{remote}/blob.bin is a binary file (3 bytes); only text files can be read or patched"
    assert "is a directory" in run_tool("read_file", {"path": remote})["error"]


def test_missing_file_gives_the_local_error_with_suggestions(run_tool, remote: str) -> None:
    _sh(run_tool, f"cd {remote} && : > config.yaml")
    error = run_tool("read_file", {"path": "config.yml"})["error"]
    assert error == f"file not found: {remote}/config.yml. Did you mean: {remote}/config.yaml?"
    assert run_tool("patch", {"path": "nope/x.py", "old_string": "a", "new_string": "b"})["error"] == (
        f"file not found: {remote}/nope/x.py.")
    assert run_tool("search_files", {"pattern": "x", "path": "gone"})["error"] == f"file not found: {remote}/gone."


def test_patch_edits_the_remote_file(run_tool, remote: str) -> None:
    _sh(run_tool, f"cd {remote} && printf 'def f():\\n    return 1\\n' > mod.py && chmod 755 mod.py")
    result = run_tool("patch", {"path": "mod.py", "old_string": "return 1", "new_string": "return 2"})
    assert result["replacements"] == 1 and result["match"] == "exact"
    assert "-    return 1\n+    return 2\n" in result["diff"]
    assert _sh(run_tool, "cat mod.py; stat -c %a mod.py")["output"] == "def f():\n    return 2\n755\n"


def test_binary_content_round_trips(run_tool, remote: str) -> None:
    # Bytes that are not UTF-8 survive a patch untouched (surrogateescape, as locally).
    _sh(run_tool, f"cd {remote} && printf 'x = 1\\n# \\377\\376\\n' > raw.py")
    assert run_tool("patch", {"path": "raw.py", "old_string": "x = 1", "new_string": "x = 2"})["replacements"] == 1
    raw = _sh(run_tool, "base64 raw.py")["output"]
    assert base64.b64decode(raw) == b"x = 2\n# \xff\xfe\n"


@pytest.mark.parametrize("use_rg", [True, False])
def test_search_contents_remotely(run_tool, remote: str, use_rg: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_search, "USE_RG", use_rg)
    _sh(run_tool, f"cd {remote} && mkdir -p pkg .hidden node_modules && "
                  "printf 'import os\\nTODO = 1\\n' > pkg/a.py && printf 'TODO: b\\n' > b.txt && "
                  "echo TODO > .hidden/c.py && echo TODO > node_modules/d.py && printf 'TODO\\000' > e.bin")
    found = run_tool("search_files", {"pattern": "TODO"})
    assert found == {"matches": [{"path": "b.txt", "line": 1, "text": "TODO: b"},
                                 {"path": "pkg/a.py", "line": 2, "text": "TODO = 1"}], "truncated": False}
    only_py = run_tool("search_files", {"pattern": "TODO", "glob": "*.py", "limit": 5})
    assert [m["path"] for m in only_py["matches"]] == ["pkg/a.py"]
    limited = run_tool("search_files", {"pattern": "TODO", "limit": 1})
    assert len(limited["matches"]) == 1 and limited["truncated"] is True
    assert run_tool("search_files", {"pattern": "import", "path": "pkg/a.py"})["matches"] == [
        {"path": "pkg/a.py", "line": 1, "text": "import os"}]
    assert "error" in run_tool("search_files", {"pattern": "(unclosed"})


@pytest.mark.parametrize("use_rg", [True, False])
def test_search_file_names_remotely(run_tool, remote: str, use_rg: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_search, "USE_RG", use_rg)
    _sh(run_tool, f"cd {remote} && mkdir -p pkg/deep .hidden && touch pkg/a.py pkg/deep/b.py .hidden/c.py z.txt")
    names = run_tool("search_files", {"pattern": "*.py", "target": "files"})
    assert names == {"files": ["pkg/a.py", "pkg/deep/b.py"], "truncated": False}
    assert run_tool("search_files", {"pattern": "a", "target": "files", "path": f"{remote}/pkg"})["files"] == [
        "pkg/a.py"]
    assert run_tool("search_files", {"pattern": "*", "target": "files", "limit": 2})["truncated"] is True


def test_modal_file_tools(run_tool, fake_modal, tmp_path) -> None:
    target = f"{tmp_path}/in-sandbox/f.txt"  # the stand-in sandbox runs its commands on this machine
    assert run_tool("write_file", {"path": target, "content": "alpha\nbeta\n"})["action"] == "created"
    assert run_tool("read_file", {"path": target})["content"] == "     1\talpha\n     2\tbeta"
    assert run_tool("patch", {"path": target, "old_string": "beta", "new_string": "gamma"})["replacements"] == 1
    assert open(target, encoding="utf-8").read() == "alpha\ngamma\n"


def test_unknown_backend_is_an_error_not_the_host(run_tool, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TERMINAL_ENV", "nonesuch")
    result = run_tool("write_file", {"path": str(tmp_path / "x.txt"), "content": "x"})
    assert result["error"].startswith("env TERMINAL_ENV: 'nonesuch' is not valid for terminal.backend; expected one of")
    assert not (tmp_path / "x.txt").exists()


def test_relative_paths_before_any_command_and_large_files(run_tool, remote: str) -> None:
    name = f"{os.path.basename(remote)}.txt"
    # No command has run yet in task "fresh": relative paths start where its terminal would.
    written = run_tool("write_file", {"path": name, "content": "x" * 3_000_000 + "\n"}, task_id="fresh")
    assert written["bytes_written"] == 3_000_001
    seen = run_tool("terminal", {"command": f"wc -c < {name}; rm {name}"}, task_id="fresh")
    assert seen["output"].split() == ["3000001"]
    home = run_tool("terminal", {"command": "echo ~"}, task_id="fresh")["output"].strip()
    assert run_tool("write_file", {"path": "~/" + name, "content": "h"}, task_id="fresh")["path"] == f"{home}/{name}"
    run_tool("terminal", {"command": f"rm ~/{name}"}, task_id="fresh")


def test_write_through_a_symlink_keeps_the_link(run_tool, remote: str) -> None:
    _sh(run_tool, f"cd {remote} && echo old > real.txt && ln -s real.txt link.txt")
    assert run_tool("write_file", {"path": "link.txt", "content": "new\n"})["action"] == "overwrote"
    assert _sh(run_tool, "readlink link.txt; cat real.txt")["output"] == "real.txt\nnew\n"
    assert run_tool("write_file", {"path": remote, "content": "x"})["error"] == f"{remote} is a directory; give a file path"
