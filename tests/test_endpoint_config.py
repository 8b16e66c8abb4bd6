"""Endpoint resolution order and config loading errors."""

from __future__ import annotations

import pytest

from agent.endpoint import OPENAI_BASE_URL, OPENROUTER_BASE_URL, PLACEHOLDER_KEY, resolve_endpoint
from agent.errors import ConfigError
from agent.settings import load_settings


def endpoint(flags=None, environ=None, cwd=None):
    return resolve_endpoint(load_settings(flags, environ=environ or {}, cwd=cwd, read_files=cwd is not None))


def test_flags_win_over_environment():
    env = {"OPENAI_BASE_URL": "http://env:1/v1", "OPENAI_API_KEY": "envkey", "LLM_MODEL": "envmodel"}
    ep = endpoint({"base_url": "http://flag:2/v1", "api_key": "flagkey", "model": "flagmodel"}, env)
    assert (ep.base_url, ep.api_key, ep.model, ep.source) == ("http://flag:2/v1", "flagkey", "flagmodel",
                                                              "flag --base-url")


def test_openai_env_then_openrouter():
    ep = endpoint(environ={"OPENAI_API_KEY": "k"})
    assert ep.base_url == OPENAI_BASE_URL and ep.api_key == "k"
    ep = endpoint(environ={"OPENROUTER_API_KEY": "or"})
    assert ep.base_url == OPENROUTER_BASE_URL and ep.api_key == "or" and ep.model == "anthropic/claude-sonnet-4"
    ep = endpoint(environ={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1/", "OPENROUTER_API_KEY": "or"})
    assert ep.base_url == "http://127.0.0.1:8000/v1" and ep.api_key == PLACEHOLDER_KEY and ep.model is None
    assert ep.source == "env OPENAI_BASE_URL"


def test_model_order_flag_config_env(tmp_path):
    env = {"OPENAI_BASE_URL": "http://h/v1", "LLM_MODEL": "from-env", "HERMES_HOME": str(tmp_path)}
    assert endpoint(environ=env).model == "from-env"
    (tmp_path / "config.yaml").write_text("model: {default: from-config}\n", encoding="utf-8")
    assert endpoint(environ=env, cwd=tmp_path).model == "from-config"
    assert endpoint({"model": "flag"}, environ=env, cwd=tmp_path).model == "flag"


def test_nothing_configured_names_what_to_set():
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL.*OPENROUTER_API_KEY"):
        endpoint(environ={})


def test_bad_url_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^flag --base-url: 'localhost:8000' is not valid for model\.base_url; "
                                          r"expected an http\(s\) URL"):
        endpoint({"base_url": "localhost:8000"})


def test_malformed_yaml_names_file_and_line(tmp_path):
    (tmp_path / "config.yaml").write_text("model:\n  default: x\n  bad: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml:\d+: invalid YAML"):
        load_settings(None, environ={"HERMES_HOME": str(tmp_path)}, cwd=tmp_path)


def test_unknown_key_warns_with_file_and_line_and_later_file_wins(tmp_path):
    home, local = tmp_path / "home", tmp_path / "project"
    home.mkdir(), local.mkdir()
    (home / "config.yaml").write_text("model: base-model\nagent:\n  max_turns: 5\n", encoding="utf-8")
    (local / "cli-config.yaml").write_text("model:\n  default: local-model\nmystery: 1\n", encoding="utf-8")
    config = load_settings(None, environ={"HERMES_HOME": str(home)}, cwd=local)
    assert config.get("model.default") == "local-model"
    assert config.get("agent.max_turns") == 5
    assert config.sources["model.default"] == f"{local / 'cli-config.yaml'}:2"
    assert config.warnings == [f"{local / 'cli-config.yaml'}:3: unknown key 'mystery' ignored"]
