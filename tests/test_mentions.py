"""`@path` mentions in `hermes -p` (issue 18): what the model is sent for a file, a cut file, a missing
path, a binary file, a directory and a credential file; the session log records what was sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.mentions import expand, mentions
from scripted_server import Reply
from tests.conftest import read_jsonl, run_hermes


def flags(llm) -> list[str]:
    return ["--base-url", llm.base_url, "--api-key", "sk-test-0123456789abcdef", "--model", "scripted-model"]


def sent_prompt(llm) -> str:
    return llm.chat_requests[0].body["messages"][-1]["content"]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "app.py").write_text("def main():\n    return 'APP-BODY'\n")
    (ws / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nKEY-DECOY-42\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = AWS-DECOY-42\n")
    monkeypatch.setenv("HOME", str(home))
    return ws


def test_a_mentioned_file_is_attached_and_recorded(scripted_llm, ws, log_dir):
    llm = scripted_llm([Reply(content="explained")])
    result = run_hermes("-p", "explain @src/app.py, briefly", *flags(llm), cwd=ws)
    assert (result.returncode, result.stdout, result.stderr) == (0, "explained\n", "")
    prompt = sent_prompt(llm)
    assert prompt == ("explain @src/app.py, briefly\n\n"
                      '<attached_file path="src/app.py" bytes="34">\n'
                      "def main():\n    return 'APP-BODY'\n</attached_file>")
    user = [e for e in read_jsonl(next(log_dir.glob("session_*.jsonl")))
            if e["type"] == "message" and e["message"]["role"] == "user"]
    assert user[0]["message"]["content"] == prompt  # the log (and so every export) has what was sent


def test_paths_resolve_against_terminal_cwd(scripted_llm, ws, tmp_path):
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "see @app.py", *flags(llm), env={"TERMINAL_CWD": str(ws / "src")}, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert "APP-BODY" in sent_prompt(llm)


def test_a_missing_path_warns_once_and_is_sent_as_typed(scripted_llm, ws):
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "ping @nobody about it", *flags(llm), cwd=ws)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [f"hermes: warning: @nobody: no such file in {ws}; sent as typed"]
    assert sent_prompt(llm) == "ping @nobody about it"


def test_a_big_file_is_cut_at_the_cap_with_a_note(scripted_llm, ws, hermetic_env):
    (hermetic_env / "config.yaml").write_text("mentions:\n  max_bytes: 100\n")
    (ws / "big.log").write_text("".join(f"line {i:04d}\n" for i in range(100)))  # 1000 bytes
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "summarise @big.log", *flags(llm), cwd=ws)
    assert result.returncode == 0
    prompt = sent_prompt(llm)
    assert "line 0009\n" in prompt and "line 0010" not in prompt
    assert "[cut here: the first 100 of 1000 bytes are attached (mentions.max_bytes)]" in prompt
    assert result.stderr == "hermes: warning: @big.log: attached the first 100 of 1000 bytes (mentions.max_bytes is 100)\n"


def test_binary_directories_and_credentials_are_refused_with_a_note(scripted_llm, ws):
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "look at @logo.png @src @~/.ssh/id_rsa @../home/.aws/credentials", *flags(llm),
                        cwd=ws)
    assert result.returncode == 0
    prompt = sent_prompt(llm)
    body = str(llm.chat_requests[0].body)
    assert "KEY-DECOY-42" not in body and "AWS-DECOY-42" not in body and "IHDR" not in body
    assert "[@logo.png was not attached: a binary file (272 bytes)]" in prompt
    assert "[@src was not attached: a directory (mention a file)]" in prompt
    assert "[@~/.ssh/id_rsa was not attached: ~/.ssh/id_rsa holds keys or credentials; the model may not read it]" in prompt
    assert "[@../home/.aws/credentials was not attached: ~/.aws/credentials holds keys or credentials; the model may not read it]" in prompt
    warnings = result.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("hermes: warning: @") for w in warnings), warnings


def test_hermes_own_credentials_are_refused(scripted_llm, ws, hermetic_env):
    (hermetic_env / ".env").write_text("SOME_TOKEN=HERMES-DECOY-42\n")
    (ws / ".env").write_text("OTHER=CWD-DECOY-42\n")
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", f"@{hermetic_env / '.env'} and @.env", *flags(llm), cwd=ws)
    assert result.returncode == 0
    body = str(llm.chat_requests[0].body)
    assert "HERMES-DECOY-42" not in body and "CWD-DECOY-42" not in body
    assert sent_prompt(llm).count("was not attached") == 2


def test_switched_off_sends_the_text_as_typed(scripted_llm, ws, hermetic_env):
    (hermetic_env / "config.yaml").write_text("mentions:\n  enabled: false\n")
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "explain @src/app.py", *flags(llm), cwd=ws)
    assert (result.returncode, result.stderr, sent_prompt(llm)) == (0, "", "explain @src/app.py")


def test_what_counts_as_a_mention():
    assert mentions('mail a@b.c, see @x.py and @"my notes.md" and @x.py again') == ["x.py", "my notes.md"]
    assert mentions("@first\n@second") == ["first", "second"]


def test_trailing_punctuation_and_quoted_paths(tmp_path):
    (tmp_path / "my notes.md").write_text("NOTES\n")
    (tmp_path / "v1.").write_text("DOTTED\n")  # a name that really ends in a dot is kept whole
    result = expand('read @"my notes.md". And @v1.', tmp_path, 1000, lambda p: None)
    assert "NOTES" in result.text and "DOTTED" in result.text and not result.warnings


def test_the_cap_is_shared_by_all_files_of_a_message(tmp_path):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(name[0] * 40)
    result = expand("@a.txt @b.txt @c.txt", tmp_path, 60, lambda p: None)
    assert [(a.typed, a.sent) for a in result.attachments] == [("a.txt", 40), ("b.txt", 20)]
    assert result.notes == ["[@c.txt was not attached: over mentions.max_bytes (60 bytes per message; "
                            "this file has 40)]"]
