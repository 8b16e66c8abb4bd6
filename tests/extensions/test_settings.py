"""`mcp_servers:` and `hooks:` in the settings object: parsed once by the loader, shown by /config."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.endpoint import resolve_endpoint
from agent.errors import ConfigError
from agent.settings import load_settings
from hermes_cli.config_view import format_config

CONFIG = """\
mcp_servers:
  files:
    command: srv
    args: ["${ROOT}"]
    env: {API_TOKEN: "${SERVER_TOKEN}"}
  gh:
    url: https://example.test/mcp
    bearer_token_env_var: GH_TOKEN
    headers: {X-Key: literal-header-secret}
hooks:
  PreToolUse:
    - matcher: terminal
      hooks:
        - {type: command, command: "guard --key hook-command-secret"}
"""


def load(tmp_path: Path, text: str, **env: str):
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return load_settings(None, cwd=tmp_path, environ={"HERMES_HOME": str(tmp_path), **env})


def test_the_loader_parses_servers_and_hooks_with_its_own_environment(tmp_path: Path):
    (tmp_path / ".env").write_text("SERVER_TOKEN=from-dotenv-123456\n", encoding="utf-8")
    settings = load(tmp_path, CONFIG, ROOT="/data", GH_TOKEN="ghp_secret_value_123456")
    files, gh = settings.extensions.servers
    assert (files.name, files.args, files.env) == ("files", ["/data"], {"API_TOKEN": "from-dotenv-123456"})
    assert (gh.transport, gh.bearer_token()) == ("http", "ghp_secret_value_123456")
    assert "ghp_secret" not in repr(gh)  # the token is never in a repr (logs, tracebacks)
    [group] = settings.extensions.hooks["PreToolUse"]
    assert group.matcher == "terminal" and group.hooks[0].command.startswith("guard")
    import toolsets

    assert toolsets.validate_toolset("mcp-files") and toolsets.validate_toolset("mcp")


def test_toolsets_may_name_mcp_servers(tmp_path: Path):
    settings = load(tmp_path, CONFIG + "toolsets: [mcp-gh, terminal]\n")
    assert settings.toolsets == ["mcp-gh", "terminal"]


@pytest.mark.parametrize("text, message", [
    ("hooks:\n  PreTool:\n    - hooks: [{command: x}]\n", ":2: unknown hook event 'PreTool' (did you mean PreToolUse?)"),
    ("mcp_servers:\n  ok: {command: x}\n  bad:\n    url: ftp://x\n", ":4: mcp_servers.bad: needs `url` starting with http"),
])
def test_a_bad_entry_is_one_line_with_its_file_and_line(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    [line] = str(err.value).splitlines()
    assert line.startswith(str(tmp_path / "config.yaml")) and message in line, line


def test_config_shows_server_names_and_hook_events_never_their_secrets(tmp_path: Path):
    settings = load(tmp_path, CONFIG, SERVER_TOKEN="dotenv-secret-abcdef", GH_TOKEN="ghp_secret_value_123456",
                    OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    rows = {key: (value, source) for key, value, source in format_config(settings, resolve_endpoint(settings))}
    assert rows["mcp_servers"] == ("files, gh", f"{tmp_path / 'config.yaml'}:1")
    assert rows["hooks"][0] == "PreToolUse"
    text = repr(rows)
    for secret in ("literal-header-secret", "hook-command-secret", "ghp_secret", "dotenv-secret"):
        assert secret not in text


def test_no_section_nothing_parsed(tmp_path: Path):
    settings = load(tmp_path, "agent: {max_turns: 3}\n")
    assert settings.extensions.servers == [] and settings.extensions.hooks == {}
