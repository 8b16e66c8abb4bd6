"""Config: the example file, unknown nested keys, /config sources and masking, save_config_value."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from agent.config import DEFAULTS, load_config, save_config_value
from agent.endpoint import resolve_endpoint
from agent.errors import ConfigError
from hermes_cli.args import parse_args
from hermes_cli.config_view import format_config, mask
from scripted_server import Reply
from tests.conftest import ROOT, run_hermes

EXAMPLE = ROOT / "cli-config.yaml.example"


def rows_by_key(rows) -> dict[str, tuple[str, str]]:
    return {key: (value, source) for key, value, source in rows}


def commented_terminal_settings() -> dict[str, object]:
    """The example's commented-out terminal settings (the "(coming)" backends), as if switched on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("\nterminal:"):text.index("\ndisplay:")]
    settings = {}
    for line in block.splitlines():
        match = re.fullmatch(r"  # ([a-z_]+): (.+)", line)
        if match:
            settings[match[1]] = yaml.safe_load(match[2])
    return settings


def test_example_covers_every_setting_and_loads_without_warnings(tmp_path):
    config = load_config(paths=[EXAMPLE])
    assert config.warnings == []
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for section, default in DEFAULTS.items():
        assert section in data, section
        if isinstance(default, dict) and section != "model":
            assert set(default) <= set(data[section]), (section, set(default) - set(data[section]))
    assert "api_key" not in data["model"]  # keys live in .env, never in yaml
    assert config.get("agent.compress_threshold") == 0.8 and config.get("agent.context_window") == 128000
    coming = commented_terminal_settings()
    assert {"docker_image", "ssh_host", "ssh_user", "ssh_port", "ssh_key", "singularity_image", "modal_image"} <= set(coming)
    switched_on = tmp_path / "config.yaml"
    switched_on.write_text(yaml.safe_dump({"terminal": coming}), encoding="utf-8")
    assert load_config(paths=[switched_on]).warnings == []


def test_example_works_as_a_real_config(scripted_llm, hermetic_env, tmp_path):
    (hermetic_env / "config.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    llm = scripted_llm([Reply(content="fine")])
    result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--toolsets", "reading", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "fine\n", "")
    request = llm.chat_requests[0].body
    assert request["model"] == "anthropic/claude-sonnet-4"
    assert sorted(t["function"]["name"] for t in request["tools"]) == ["read_file", "search_files"]


def test_unknown_nested_key_names_file_line_and_suggests(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("model: m\nagent:\n  max_turns: 5\n  max_turn: 9\ndisplay:\n  spiner: false\ntoolset: [web]\n",
                    encoding="utf-8")
    config = load_config(paths=[path])
    assert config.warnings == [
        f"{path}:4: unknown key 'agent.max_turn' ignored (did you mean 'agent.max_turns'?)",
        f"{path}:6: unknown key 'display.spiner' ignored (did you mean 'display.spinner'?)",
        f"{path}:7: unknown key 'toolset' ignored (did you mean 'toolsets'?)",
    ]
    assert config.get("agent.max_turns") == 5 and "max_turn" not in config.values["agent"]
    assert config.get("display.spinner") is True


def test_free_form_sections_take_any_names(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("agent:\n  personalities:\n    grumpy: Be grumpy.\ncustom_toolsets:\n  mine: {tools: [read_file]}\n",
                    encoding="utf-8")
    assert load_config(paths=[path]).warnings == []
    path.write_text("agent:\n  personalities: [a, b]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml:2: 'agent\.personalities' must be a mapping"):
        load_config(paths=[path])


def test_unknown_nested_key_warns_on_a_real_run(scripted_llm, hermetic_env, tmp_path):
    (hermetic_env / "config.yaml").write_text("agent:\n  max_turn: 3\n", encoding="utf-8")
    llm = scripted_llm([Reply(content="ok")])
    result = run_hermes("-p", "hi", "--base-url", llm.base_url, "--model", "m", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "ok\n"
    assert result.stderr == (f"hermes: warning: {hermetic_env / 'config.yaml'}:2: unknown key 'agent.max_turn' "
                             "ignored (did you mean 'agent.max_turns'?)\n")


def test_bad_context_settings_are_config_errors(scripted_llm, hermetic_env, tmp_path):
    (hermetic_env / "config.yaml").write_text("agent:\n  compress_threshold: 1.5\n", encoding="utf-8")
    result = run_hermes("-p", "hi", "--base-url", scripted_llm([]).base_url, "--model", "m", cwd=tmp_path)
    assert result.returncode == 2 and "compress_threshold' must be above 0 and at most 1.0" in result.stderr


def test_mask_keeps_prefix_and_last_four():
    assert mask("sk-or-v1-0123456789abcdef") == "sk-…cdef"
    assert mask("short") == "…"


def test_format_config_sources_and_masking(tmp_path):
    home = tmp_path / "config.yaml"
    home.write_text("model:\n  default: file-model\n  api_key: sk-config-key-0123456789wxyz\nagent:\n  max_turns: 7\n"
                    "  personalities:\n    grumpy: Be grumpy.\nterminal:\n  timeout: 30\n"
                    "display:\n  verbose: true\n", encoding="utf-8")
    local = tmp_path / "cli-config.yaml"
    local.write_text("agent:\n  system_prompt: 'Use the token ghp_secretsecretsecret123 carefully'\n", encoding="utf-8")
    config = load_config(paths=[home, local])
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "TERMINAL_CWD": "/srv/work",
           "GITHUB_TOKEN": "ghp_secretsecretsecret123"}
    endpoint = resolve_endpoint(config_model=config.get("model"), environ=env)
    args = parse_args(["--max-turns", "3", "--no-stream", "--toolsets", "file"])
    rows = format_config(config, endpoint, args, environ=env)
    shown = rows_by_key(rows)
    assert len(shown) == len(rows)  # one row per key
    assert shown["model.default"] == ("file-model", str(home))
    assert shown["model.base_url"] == ("http://127.0.0.1:9/v1", "env OPENAI_BASE_URL")
    assert shown["model.api_key"] == ("sk-…wxyz", str(home))
    assert shown["agent.max_turns"] == ("3", "flag --max-turns")
    assert shown["toolsets"] == ("file", "flag --toolsets")
    assert shown["agent.stream"] == ("off", "flag --no-stream")
    assert shown["agent.personalities"] == ("grumpy", str(home))
    assert shown["agent.context_window"] == ("128000", "default")
    assert shown["agent.system_prompt"] == ("Use the token ghp…t123 carefully", str(local))
    assert shown["terminal.timeout"] == ("30", str(home))
    assert shown["terminal.cwd"] == ("/srv/work", "env TERMINAL_CWD")
    assert shown["display.verbose"] == ("on", str(home))
    assert shown["agent.token_capture"] == ("off", "default")  # a secret-looking name, but not a secret value
    text = repr(rows)
    assert "sk-config-key-0123456789wxyz" not in text and "ghp_secretsecretsecret123" not in text


def test_format_config_endpoint_key_from_env_and_defaults_without_files():
    env = {"OPENROUTER_API_KEY": "sk-or-v1-abcdefghijklmnop9876"}
    config = load_config(paths=[])
    shown = rows_by_key(format_config(config, resolve_endpoint(environ=env), environ=env))
    assert shown["model.api_key"] == ("sk-…9876", "env OPENROUTER_API_KEY")
    assert shown["model.base_url"][1] == "implied by env OPENROUTER_API_KEY"
    assert shown["model.default"] == ("anthropic/claude-sonnet-4", "default for openrouter.ai")
    assert all(source == "default" for key, (_, source) in shown.items() if not key.startswith("model."))


def test_save_config_value_keeps_other_settings_and_is_atomic(hermetic_env):
    path = hermetic_env / "config.yaml"
    path.write_text("# my settings\nmodel: my-model\nagent:\n  max_turns: 9\n", encoding="utf-8")
    os.chmod(path, 0o640)
    assert save_config_value("approvals.allowlist", ["recursive delete"]) == path
    save_config_value("model.default", "other-model")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data == {"model": {"default": "other-model"}, "agent": {"max_turns": 9},
                    "approvals": {"allowlist": ["recursive delete"]}}
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in hermetic_env.iterdir() if p.is_file()) == ["config.yaml"]  # no temp files left
    config = load_config(paths=[path])
    assert config.warnings == [] and config.get("approvals.allowlist") == ["recursive delete"]


def test_save_config_value_creates_the_file_and_refuses_to_clobber_a_broken_one(hermetic_env):
    path = hermetic_env / "config.yaml"
    save_config_value("agent.personality", "pirate")
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {"agent": {"personality": "pirate"}}
    assert os.stat(path).st_mode & 0o777 == 0o600
    path.write_text("agent: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        save_config_value("agent.personality", "noir")
    assert path.read_text(encoding="utf-8") == "agent: [unclosed\n"
