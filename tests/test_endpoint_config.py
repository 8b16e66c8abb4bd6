"""Endpoint resolution order and config loading errors."""

from __future__ import annotations

import pytest

from agent.config import load_config
from agent.endpoint import OPENAI_BASE_URL, OPENROUTER_BASE_URL, PLACEHOLDER_KEY, resolve_endpoint
from agent.errors import ConfigError


def test_flags_win_over_environment():
    env = {"OPENAI_BASE_URL": "http://env:1/v1", "OPENAI_API_KEY": "envkey", "LLM_MODEL": "envmodel"}
    ep = resolve_endpoint("http://flag:2/v1", "flagkey", "flagmodel", environ=env)
    assert (ep.base_url, ep.api_key, ep.model) == ("http://flag:2/v1", "flagkey", "flagmodel")


def test_openai_env_then_openrouter():
    ep = resolve_endpoint(environ={"OPENAI_API_KEY": "k"})
    assert ep.base_url == OPENAI_BASE_URL and ep.api_key == "k"
    ep = resolve_endpoint(environ={"OPENROUTER_API_KEY": "or"})
    assert ep.base_url == OPENROUTER_BASE_URL and ep.api_key == "or" and ep.model == "anthropic/claude-sonnet-4"
    ep = resolve_endpoint(environ={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1/", "OPENROUTER_API_KEY": "or"})
    assert ep.base_url == "http://127.0.0.1:8000/v1" and ep.api_key == PLACEHOLDER_KEY and ep.model is None


def test_model_order_flag_config_env():
    env = {"OPENAI_BASE_URL": "http://h/v1", "LLM_MODEL": "from-env"}
    assert resolve_endpoint(environ=env).model == "from-env"
    assert resolve_endpoint(config_model={"default": "from-config"}, environ=env).model == "from-config"
    assert resolve_endpoint(model="flag", config_model={"default": "c"}, environ=env).model == "flag"


def test_nothing_configured_names_what_to_set():
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL.*OPENROUTER_API_KEY"):
        resolve_endpoint(environ={})


def test_bad_url_is_a_config_error():
    with pytest.raises(ConfigError, match="not an http"):
        resolve_endpoint("localhost:8000", environ={})


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  default: x\n  bad: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml:\d+: invalid YAML"):
        load_config(paths=[path])


def test_unknown_key_warns_with_file_and_line_and_later_file_wins(tmp_path):
    home, local = tmp_path / "config.yaml", tmp_path / "cli-config.yaml"
    home.write_text("model: base-model\nagent:\n  max_turns: 5\n", encoding="utf-8")
    local.write_text("model:\n  default: local-model\nmystery: 1\n", encoding="utf-8")
    config = load_config(paths=[home, local])
    assert config.get("model.default") == "local-model"
    assert config.get("agent.max_turns") == 5
    assert config.sources["model.default"] == str(local)
    assert config.warnings == [f"{local}:3: unknown key 'mystery' ignored"]
