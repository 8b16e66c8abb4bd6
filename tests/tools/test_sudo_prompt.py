"""With no SUDO_PASSWORD, the REPL's callback is asked once for it when a command uses sudo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.environments import sudo

PASSWORD = "typed-at-the-prompt-42"

# Records the password line it reads; `-n` (the probe) fails like a sudo that needs a password.
FAKE_SUDO = """#!/bin/bash
[ "$1" = "-n" ] && exit 1
[ "$1 $2 $3 $4" = "-k -S -p " ] || { echo "no password given"; exit 1; }
shift 4
IFS= read -r line
printf '%s\\n' "$line" >"$(dirname "$0")/stdin.log"
"$@"
"""


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SUDO_PASSWORD", raising=False)
    monkeypatch.setattr(sudo, "_typed_password", None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text(FAKE_SUDO, encoding="utf-8")
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n", encoding="utf-8")  # not root, as a user would be
    for name in ("sudo", "id"):
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_asked_once_and_the_password_reaches_sudo_only(run_tool, standins):
    asked = []
    extra = {"ask_sudo_password": lambda: asked.append(1) or PASSWORD}
    run_tool("terminal", {"command": f"export PATH={standins}:$PATH"}, extra=extra)
    first = run_tool("terminal", {"command": "sudo echo as-root"}, extra=extra)
    assert (first["output"], first["exit_code"]) == ("as-root\n", 0)
    assert (standins / "stdin.log").read_text(encoding="utf-8") == PASSWORD + "\n"
    second = run_tool("terminal", {"command": "sudo echo again; env"}, extra=extra)
    assert second["output"].startswith("again\n") and PASSWORD not in second["output"]
    assert asked == [1]


def test_refused_prompt_is_not_asked_again(run_tool, standins):
    asked = []
    extra = {"ask_sudo_password": lambda: asked.append(1) or None}
    run_tool("terminal", {"command": f"export PATH={standins}:$PATH"}, extra=extra)
    for _ in range(2):
        result = run_tool("terminal", {"command": "sudo echo x"}, extra=extra)
        assert "no password given" in result["output"]
    assert asked == [1]


def test_not_asked_without_sudo_with_passwordless_sudo_or_without_a_prompt(run_tool, standins, tmp_path):
    asked = []
    extra = {"ask_sudo_password": lambda: asked.append(1) or PASSWORD}
    run_tool("terminal", {"command": "export PATH=/nonexistent"}, task_id="no-sudo", extra=extra)
    assert "not found" in run_tool("terminal", {"command": "sudo ls"}, task_id="no-sudo", extra=extra)["output"]
    passwordless = tmp_path / "nopasswd"
    passwordless.mkdir()
    (passwordless / "sudo").write_text('#!/bin/sh\n[ "$1" = "-n" ] && shift\nexec "$@"\n', encoding="utf-8")
    (passwordless / "sudo").chmod(0o755)
    run_tool("terminal", {"command": f"export PATH={passwordless}:$PATH"}, task_id="nopasswd", extra=extra)
    assert run_tool("terminal", {"command": "sudo echo x"}, task_id="nopasswd", extra=extra)["output"] == "x\n"
    run_tool("terminal", {"command": f"export PATH={standins}:$PATH"})
    assert "no password given" in run_tool("terminal", {"command": "sudo echo x"})["output"]  # one-shot: no prompt
    assert asked == []
