"""Every setting and documented variable against the one validator: a good value, a wrong type, a value
out of range, an unknown key. In process (fast); the subprocess tests in test_settings_cli.py check
that each *kind* of failure reaches the user as one line and exit 2, for -p and the REPL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.errors import ConfigError
from agent.settings import load_settings
from agent.settings.schema import FIELDS, Field
from agent.settings.sources import short
from agent.settings.validate import allowed

GOOD: dict[str, Any] = {"int": 7, "float": 0.5, "bool": False, "str": "x", "url": "http://127.0.0.1:9/v1",
                        "list": ["A", "B"], "toolsets": ["file"], "mapping": {}}
WRONG: dict[str, Any] = {"int": "lots", "float": "soon", "bool": "maybe", "str": [1, 2], "url": "localhost:9",
                         "list": 5, "toolsets": 5, "mapping": 5, "enum": "nosuch"}
ENV_GOOD: dict[str, str] = {"int": "3", "float": "0.5", "bool": "true", "str": "x", "url": "http://127.0.0.1:9/v1",
                            "list": "A,B", "enum": "local"}
ENV_WRONG: dict[str, str] = {"int": "abc", "float": "abc", "bool": "maybe", "url": "not-a-url", "enum": "nosuch"}


def good(spec: Field) -> Any:
    if spec.key == "agent.personality":
        return "pirate"
    if spec.kind == "enum":
        return spec.choices[-1]
    return max(GOOD[spec.kind], spec.minimum) if spec.minimum is not None else GOOD[spec.kind]


def out_of_range(spec: Field) -> Any | None:
    if spec.minimum is not None:
        return spec.minimum - 1 if spec.kind == "int" else spec.minimum - 0.5
    if spec.above is not None:
        return spec.above if spec.kind == "float" else int(spec.above)
    return None


def as_yaml(key: str, value: Any) -> str:
    section, _, name = key.partition(".")
    return yaml.safe_dump({section: {name: value}} if name else {section: value}, sort_keys=False)


def load_with(home: Path, text: str, environ: dict[str, str] | None = None):
    (home / "config.yaml").write_text(text, encoding="utf-8")
    return load_settings(None, cwd=home, environ={"HERMES_HOME": str(home), **(environ or {})})


def expected_line(home: Path, text: str, spec: Field, value: Any) -> str:
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.strip().startswith(spec.key.rpartition(".")[2]))
    return f"{home / 'config.yaml'}:{line}: {short(value)} is not valid for {spec.key}; expected {allowed(spec)}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.key)
def test_good_value_is_taken_with_its_file_and_line(spec: Field, home: Path):
    text = as_yaml(spec.key, good(spec))
    settings = load_with(home, text)
    assert settings.get(spec.key) == good(spec)
    assert settings.source(spec.key).startswith(f"{home / 'config.yaml'}:")
    assert settings.warnings == []


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.key)
def test_wrong_type_is_one_line_naming_file_line_value_and_what_is_allowed(spec: Field, home: Path):
    value = WRONG["enum" if spec.kind == "enum" else spec.kind]
    text = as_yaml(spec.key, value)
    with pytest.raises(ConfigError) as error:
        load_with(home, text)
    assert str(error.value) == expected_line(home, text, spec, value)


@pytest.mark.parametrize("spec", [f for f in FIELDS if out_of_range(f) is not None or f.maximum is not None],
                         ids=lambda f: f.key)
def test_out_of_range_is_one_line(spec: Field, home: Path):
    low = out_of_range(spec)
    for value in [v for v in (low, spec.maximum and spec.maximum + 1) if v is not None]:
        text = as_yaml(spec.key, value)
        with pytest.raises(ConfigError) as error:
            load_with(home, text)
        assert str(error.value) == expected_line(home, text, spec, value)


@pytest.mark.parametrize("section", sorted({f.key.partition(".")[0] for f in FIELDS if "." in f.key}))
def test_unknown_key_in_each_section_warns_with_did_you_mean(section: str, home: Path):
    real = next(f.key.partition(".")[2] for f in FIELDS if f.key.startswith(f"{section}."))
    text = f"{section}:\n  {real}x: 1\n  zzzz_qqqq: 2\n"
    settings = load_with(home, text)
    path = home / "config.yaml"
    assert settings.warnings == [
        f"{path}:2: unknown key '{section}.{real}x' ignored (did you mean '{section}.{real}'?)",
        f"{path}:3: unknown key '{section}.zzzz_qqqq' ignored",
    ]


def test_unknown_top_level_key_warns(home: Path):
    assert load_with(home, "toolset: [web]\n").warnings == [
        f"{home / 'config.yaml'}:1: unknown key 'toolset' ignored (did you mean 'toolsets'?)"]


ENV_FIELDS = [(name, spec) for spec in FIELDS for name in (*spec.env, *spec.fallback_env)
              if spec.key != "approvals.mode"]


@pytest.mark.parametrize(("name", "spec"), ENV_FIELDS, ids=[n for n, _ in ENV_FIELDS])
def test_every_documented_variable_sets_its_setting_or_names_itself(name: str, spec: Field, home: Path):
    raw = spec.choices[-1] if spec.kind == "enum" else ENV_GOOD[spec.kind]
    if spec.minimum is not None and float(raw) < spec.minimum:
        raw = str(int(spec.minimum))
    settings = load_with(home, "", {name: raw})
    assert settings.source(spec.key) == f"env {name}"
    if spec.kind in ENV_WRONG:
        with pytest.raises(ConfigError) as error:
            load_with(home, "", {name: ENV_WRONG[spec.kind]})
        assert str(error.value) == (f"env {name}: {ENV_WRONG[spec.kind]!r} is not valid for {spec.key}; "
                                    f"expected {allowed(spec)}")
    low = out_of_range(spec)
    if low is not None:
        with pytest.raises(ConfigError, match=rf"^env {name}: '{low}' is not valid for {spec.key};"):
            load_with(home, "", {name: str(low)})


@pytest.mark.parametrize(("value", "mode"), [("1", "yolo"), ("true", "yolo"), ("0", "ask"), ("", "ask")])
def test_hermes_yolo_maps_to_approvals_mode(value: str, mode: str, home: Path):
    assert load_with(home, "", {"HERMES_YOLO": value}).approvals.mode == mode


def test_hermes_yolo_that_is_not_a_boolean_is_an_error(home: Path):
    with pytest.raises(ConfigError, match=r"^env HERMES_YOLO: 'perhaps' is not valid for approvals\.mode"):
        load_with(home, "", {"HERMES_YOLO": "perhaps"})


def test_home_and_log_dir_come_from_the_environment(home: Path):
    settings = load_with(home, "", {"HERMES_LOG_DIR": str(home / "elsewhere")})
    assert settings.home == home and settings.log_dir == home / "elsewhere"


def test_precedence_default_file_env_flag(home: Path):
    (home / "cli-config.yaml").write_text("agent: {max_turns: 9}\n", encoding="utf-8")
    text = "agent: {max_turns: 5}\nterminal: {timeout: 10}\nmodel: {max_retries: 1}\n"
    settings = load_with(home, text, {"TERMINAL_TIMEOUT": "20"})
    assert (settings.agent.max_turns, settings.source("agent.max_turns")) == (9, f"{home / 'cli-config.yaml'}:1")
    assert (settings.terminal.timeout, settings.source("terminal.timeout")) == (20.0, "env TERMINAL_TIMEOUT")
    assert settings.source("agent.stream") == "default"
    flagged = load_settings({"max_turns": 2, "yolo": True}, cwd=home, environ={"HERMES_HOME": str(home)})
    assert (flagged.agent.max_turns, flagged.source("agent.max_turns")) == (2, "flag --max-turns")
    assert (flagged.approvals.mode, flagged.source("approvals.mode")) == ("yolo", "flag --yolo")
    sandboxed = load_with(home, "terminal: {sandbox: off}\n", {})
    assert (sandboxed.terminal.sandbox, sandboxed.source("terminal.sandbox")) == ("off", f"{home / 'config.yaml'}:1")
    flagged = load_settings({"sandbox": "read-only"}, cwd=home, environ={"HERMES_HOME": str(home)})
    assert (flagged.terminal.sandbox, flagged.source("terminal.sandbox")) == ("read-only", "flag --sandbox")


def test_dotenv_values_are_settings_with_their_line_and_the_environment_wins(home: Path):
    (home / ".env").write_text("# keys\nHERMES_MAX_RETRIES=2\nTERMINAL_TIMEOUT=5\n", encoding="utf-8")
    settings = load_with(home, "", {"TERMINAL_TIMEOUT": "7"})
    assert (settings.model.max_retries, settings.source("model.max_retries")) == (
        2, f"{home / '.env'}:2 (HERMES_MAX_RETRIES)")
    assert settings.terminal.timeout == 7.0


def test_several_problems_are_one_line_each(home: Path):
    text = "agent: {max_turns: lots}\ntoolsets: 5\ndisplay: {spinner: maybe}\n"
    with pytest.raises(ConfigError) as error:
        load_with(home, text, {"HERMES_MAX_RETRIES": "abc"})
    lines = str(error.value).splitlines()
    assert len(lines) == 4 and [line.split(": ")[0].rsplit(":", 1)[-1] for line in lines[:3]] == ["1", "2", "3"]
    assert lines[3].startswith("env HERMES_MAX_RETRIES: 'abc'")


@pytest.mark.parametrize(("text", "expected"), [
    ("custom_toolsets:\n  mine: {tools: [read_file, no_such_tool]}\n",
     "custom_toolsets.mine names unknown tool 'no_such_tool'"),
    ("custom_toolsets:\n  mine: {includes: [nope]}\n", "custom_toolsets.mine includes unknown toolset 'nope'"),
    ("custom_toolsets:\n  mine: [read_file]\n", "custom_toolsets.mine is ['read_file']; expected a mapping"),
    ("toolsets: [file, nosuch]\n", "unknown toolset 'nosuch' in toolsets"),
    ("agent: {personality: grumpy}\n", "unknown personality 'grumpy'"),
    ("batch: {distributions: {mine: {terminal: 300}}}\n", "batch.distributions.mine is {'terminal': 300}"),
])
def test_names_are_checked(text: str, expected: str, home: Path):
    with pytest.raises(ConfigError) as error:
        load_with(home, text)
    line = 2 if text.startswith("custom_toolsets") else 1  # a custom toolset is blamed on its own line
    assert str(error.value).startswith(f"{home / 'config.yaml'}:{line}: {expected}"), str(error.value)
    assert "\n" not in str(error.value)


def test_custom_toolset_with_known_tools_is_usable(home: Path):
    import toolsets

    settings = load_with(home, "custom_toolsets:\n  reading: {tools: [read_file]}\ntoolsets: [reading]\n")
    assert settings.toolsets == ["reading"] and toolsets.resolve_toolset("reading") == ["read_file"]


def test_yaml_bomb_and_oversized_files_are_short_errors(home: Path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    with pytest.raises(ConfigError) as error:
        load_with(home, bomb)
    assert len(str(error.value)) < 200 and "alias" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_with(home, "agent:\n  system_prompt: '" + "x" * 2_000_000 + "'\n")
    assert len(str(error.value)) < 200 and "at most" in str(error.value)


def test_a_value_shown_in_an_error_is_bounded(home: Path):
    text = "agent: {max_turns: &big [" + ", ".join(["y" * 50] * 50) + "]}\n"
    with pytest.raises(ConfigError) as error:
        load_with(home, text)
    assert len(str(error.value)) < 300


def test_non_utf8_dotenv_names_the_line(home: Path):
    (home / ".env").write_bytes(b"A=1\nB=caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"^{home / '.env'}:2: not UTF-8 \(byte 0xe9\)"):
        load_with(home, "")


def test_yaml_off_is_the_off_choice(home: Path):
    assert load_with(home, "terminal: {sandbox: off}\n").terminal.sandbox == "off"


def test_aiagent_keywords_override_settings(home: Path, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch):
    from run_agent import AIAgent

    (hermetic_env / "config.yaml").write_text("agent: {max_turns: 4, context_window: 5000}\n", encoding="utf-8")
    monkeypatch.chdir(home)
    agent = AIAgent(base_url="http://127.0.0.1:9/v1", model="m", max_turns=2, record=False)
    assert agent.max_iterations == 2 and agent.settings.source("agent.max_turns") == "AIAgent(...)"
    assert agent.context.window == 5000  # from the file: the Python API reads the same settings
    with pytest.raises(ConfigError, match=r"^AIAgent\(max_turns=0\): expected a whole number >= 1$"):
        AIAgent(base_url="http://127.0.0.1:9/v1", model="m", max_turns=0, record=False)


def test_a_section_that_is_not_a_mapping_is_one_line(home: Path):
    with pytest.raises(ConfigError, match=rf"^{home / 'config.yaml'}:1: 5 is not valid for agent; expected a mapping"):
        load_with(home, "agent: 5\n")


def test_empty_lists_and_mappings_mean_the_default(home: Path):
    settings = load_with(home, "toolsets:\ncustom_toolsets:\nagent:\n  personalities:\napprovals:\n  allowlist:\n")
    assert settings.enabled_toolsets == ["all"] and settings.custom_toolsets == {}
    assert settings.agent.personalities == {} and settings.approvals.allowlist == []


def test_tool_availability_follows_the_agents_settings(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch):
    """The tools' own checks see the agent's settings (config included), not the bare environment."""
    from run_agent import AIAgent

    monkeypatch.chdir(hermetic_env)
    plain = AIAgent(base_url="http://127.0.0.1:9/v1", model="m", record=False)
    assert "web_search" not in plain.tool_names
    (hermetic_env / "config.yaml").write_text("web: {firecrawl_api_key: fc-from-config-0123456789}\n")
    keyed = AIAgent(base_url="http://127.0.0.1:9/v1", model="m", record=False)
    assert "web_search" in keyed.tool_names
def test_stall_timeout_flag_is_a_setting_that_reaches_the_retry_policy(home: Path):
    from agent.settings import retry_policy

    (home / "config.yaml").write_text("model: {stall_timeout: 12, request_deadline: 40}\n", encoding="utf-8")
    from_file = load_settings(None, cwd=home, environ={"HERMES_HOME": str(home)})
    assert (retry_policy(from_file).stall_timeout, retry_policy(from_file).deadline) == (12.0, 40.0)
    flagged = load_settings({"stall_timeout": "0.5"}, cwd=home, environ={"HERMES_HOME": str(home)})
    assert (flagged.model.stall_timeout, flagged.source("model.stall_timeout")) == (0.5, "flag --stall-timeout")
    assert retry_policy(flagged).stall_timeout == 0.5 and retry_policy(flagged).deadline == 40.0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", ".nan", ".inf"])
def test_non_finite_numbers_are_refused(home: Path, value: str):
    # nan compares false with every bound, so it used to pass "above 0"; inf is no number of seconds
    with pytest.raises(ConfigError, match=r"is not valid for model\.stall_timeout"):
        load_with(home, f"model:\n  stall_timeout: {value}\n")
    (home / "config.yaml").unlink()
    with pytest.raises(ConfigError, match=r"^flag --stall-timeout: 'nan' is not valid for model\.stall_timeout"):
        load_settings({"stall_timeout": "nan"}, cwd=home, environ={"HERMES_HOME": str(home)})
