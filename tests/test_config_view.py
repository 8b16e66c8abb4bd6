"""Config: the example file, unknown nested keys, /config sources and masking, save_config_value."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from agent.config import save_config_value
from agent.endpoint import resolve_endpoint
from agent.errors import ConfigError
from agent.settings import load_settings
from agent.settings.schema import FIELDS
from hermes_cli.args import parse_args
from hermes_cli.config_view import format_config, mask
from scripted_server import Reply
from tests.conftest import ROOT, run_hermes

EXAMPLE = ROOT / "cli-config.yaml.example"


def settings_from(*files, args=None, environ=None):
    """Settings from these files as $HERMES_HOME/config.yaml and ./cli-config.yaml (in a scratch dir)."""
    import shutil
    import tempfile
    from pathlib import Path

    scratch = Path(tempfile.mkdtemp())
    (scratch / "home").mkdir()
    for source, target in zip(files, ("home/config.yaml", "cli-config.yaml"), strict=False):
        shutil.copy(source, scratch / target)
    env = {"HERMES_HOME": str(scratch / "home"), **(environ or {})}
    return load_settings(args, cwd=scratch, environ=env), scratch


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
    settings, _ = settings_from(EXAMPLE)
    assert settings.warnings == []
    text = EXAMPLE.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for spec in FIELDS:  # every key is in the example, set or commented out
        section, _, key = spec.key.partition(".")
        if spec.secret:
            continue  # named in a comment only: keys belong in .env
        assert section in data, section
        assert re.search(rf"^\s*#?\s*{key or section}:", text, re.M), spec.key
    assert "api_key" not in data["model"]  # keys live in .env, never in yaml
    assert settings.agent.compress_threshold == 0.8 and settings.agent.context_window == 128000
    coming = commented_terminal_settings()
    assert {"docker_image", "ssh_host", "ssh_user", "ssh_port", "ssh_key", "singularity_image", "modal_image"} <= set(coming)
    switched_on = tmp_path / "config.yaml"
    switched_on.write_text(yaml.safe_dump({"terminal": coming}), encoding="utf-8")
    assert settings_from(switched_on)[0].warnings == []


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
    config, scratch = settings_from(path)
    path = scratch / "home" / "config.yaml"
    assert config.warnings == [
        f"{path}:4: unknown key 'agent.max_turn' ignored (did you mean 'agent.max_turns'?)",
        f"{path}:6: unknown key 'display.spiner' ignored (did you mean 'display.spinner'?)",
        f"{path}:7: unknown key 'toolset' ignored (did you mean 'toolsets'?)",
    ]
    assert config.get("agent.max_turns") == 5
    assert config.get("display.spinner") == "kawaii"


def test_free_form_sections_take_any_names(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("agent:\n  personalities:\n    grumpy: Be grumpy.\ncustom_toolsets:\n  mine: {tools: [read_file]}\n",
                    encoding="utf-8")
    assert settings_from(path)[0].warnings == []
    path.write_text("agent:\n  personalities: [a, b]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml:2: \['a', 'b'\] is not valid for agent\.personalities; "
                                          r"expected a mapping$"):
        settings_from(path)


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
    assert result.returncode == 2
    assert result.stderr == (f"hermes: error: {hermetic_env / 'config.yaml'}:2: 1.5 is not valid for "
                             "agent.compress_threshold; expected a number > 0 and <= 1\n")


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
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "TERMINAL_CWD": "/srv/work",
           "GITHUB_TOKEN": "ghp_secretsecretsecret123"}
    args = parse_args(["--max-turns", "3", "--no-stream", "--toolsets", "file"])
    config, scratch = settings_from(home, local, args=args, environ=env)
    home, local = scratch / "home" / "config.yaml", scratch / "cli-config.yaml"
    rows = format_config(config, resolve_endpoint(config))
    shown = rows_by_key(rows)
    assert len(shown) == len(rows)  # one row per key
    assert shown["model.default"] == ("file-model", f"{home}:2")
    assert shown["model.base_url"] == ("http://127.0.0.1:9/v1", "env OPENAI_BASE_URL")
    assert shown["model.api_key"] == ("sk-…wxyz", f"{home}:3")
    assert shown["agent.max_turns"] == ("3", "flag --max-turns")
    assert shown["toolsets"] == ("file", "flag --toolsets")
    assert shown["agent.stream"] == ("off", "flag --no-stream")
    assert shown["agent.personalities"] == ("grumpy", f"{home}:6")
    assert shown["agent.context_window"] == ("128000", "default")
    assert shown["agent.system_prompt"] == ("Use the token ghp…t123 carefully", f"{local}:2")
    assert shown["terminal.timeout"] == ("30", f"{home}:9")
    assert shown["terminal.cwd"] == ("/srv/work", "env TERMINAL_CWD")
    assert shown["display.verbose"] == ("on", f"{home}:11")
    assert shown["agent.token_capture"] == ("off", "default")  # a secret-looking name, but not a secret value
    text = repr(rows)
    assert "sk-config-key-0123456789wxyz" not in text and "ghp_secretsecretsecret123" not in text


def test_format_config_endpoint_key_from_env_and_defaults_without_files():
    env = {"OPENROUTER_API_KEY": "sk-or-v1-abcdefghijklmnop9876"}
    config = load_settings(None, environ=env, read_files=False)
    shown = rows_by_key(format_config(config, resolve_endpoint(config)))
    assert shown["model.api_key"] == ("sk-…9876", "env OPENROUTER_API_KEY")
    assert shown["model.base_url"][1] == "implied by env OPENROUTER_API_KEY"
    assert shown["model.default"] == ("anthropic/claude-sonnet-4", "default for openrouter.ai")
    assert all(source == "default" for key, (_, source) in shown.items() if not key.startswith("model."))


def test_save_config_value_keeps_other_settings_and_is_atomic(hermetic_env):
    path = hermetic_env / "config.yaml"
    path.write_text("# my settings\nmodel: my-model\nagent:\n  max_turns: 9\n", encoding="utf-8")
    os.chmod(path, 0o640)
    assert save_config_value("approvals.allowlist", ["recursive delete"], path) == path
    save_config_value("model.default", "other-model", path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data == {"model": {"default": "other-model"}, "agent": {"max_turns": 9},
                    "approvals": {"allowlist": ["recursive delete"]}}
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in hermetic_env.iterdir() if p.is_file()) == ["config.yaml"]  # no temp files left
    config = load_settings(None)
    assert config.warnings == [] and config.get("approvals.allowlist") == ["recursive delete"]


def test_save_config_value_creates_the_file_and_refuses_to_clobber_a_broken_one(hermetic_env):
    path = hermetic_env / "config.yaml"
    save_config_value("agent.personality", "pirate", path)
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {"agent": {"personality": "pirate"}}
    assert os.stat(path).st_mode & 0o777 == 0o600
    path.write_text("agent: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        save_config_value("agent.personality", "noir", path)
    assert path.read_text(encoding="utf-8") == "agent: [unclosed\n"
