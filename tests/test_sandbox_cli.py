"""What the user is told about the sandbox: the -q banner line, and the fallback when bwrap is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scripted_server import Reply
from tests.conftest import run_hermes
from tools.environments.sandbox import probe

FLAGS = ["--api-key", "sk-test-0123456789abcdef", "--model", "m"]


def no_bwrap_path(tmp_path: Path) -> str:
    """A PATH with bash but without bwrap."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("bash"), bin_dir / "bash")
    return str(bin_dir)


def test_q_banner_says_which_sandbox_and_mode_apply(scripted_llm, tmp_path) -> None:
    llm = scripted_llm([Reply(content="hi")])
    result = run_hermes("-q", "hi", "--base-url", llm.base_url, *FLAGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "sandbox" in x)
    if probe() is None:
        assert line.strip() == ("approvals ask · sandbox workspace-write (bubblewrap: workspace and temp "
                                "writable, network on)")
    else:
        assert "sandbox off:" in line and "unconfined" in line


def test_missing_bwrap_falls_back_with_one_clear_line(scripted_llm, tmp_path) -> None:
    llm = scripted_llm([Reply(content="hi"), Reply(content="hi")])
    env = {"PATH": no_bwrap_path(tmp_path)}
    quiet = run_hermes("-q", "hi", "--base-url", llm.base_url, *FLAGS, env=env, cwd=tmp_path)
    assert "approvals ask · sandbox off: bubblewrap (bwrap) is not installed; install the 'bubblewrap' " \
           "package; commands run unconfined" in quiet.stderr
    explicit = run_hermes("-p", "hi", "--sandbox", "read-only", "--base-url", llm.base_url, *FLAGS, env=env,
                          cwd=tmp_path)
    assert explicit.returncode == 0 and explicit.stdout == "hi\n"
    assert explicit.stderr == ("hermes: warning: --sandbox read-only: bubblewrap (bwrap) is not installed; "
                               "install the 'bubblewrap' package; commands run unconfined\n")


def test_bad_sandbox_value_is_a_usage_error() -> None:
    result = run_hermes("-p", "hi", "--sandbox", "strict")
    assert result.returncode == 2 and "invalid choice: 'strict'" in result.stderr and "Traceback" not in result.stderr
