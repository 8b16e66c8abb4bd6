"""Reading the inputs: YAML config files, .env files, the environment and flags, as `Entry`s that
remember where each raw value came from (`file:line`, `env NAME`, `flag --x`).

Nothing here judges a value's type (validate.py does); this module only refuses input it cannot
read safely: an oversized file, a YAML alias bomb, bad YAML, a .env that is not UTF-8.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.settings.schema import ALIASES, BY_KEY, FIELDS, FREE_FORM, known_keys

MAX_FILE_BYTES = 1 << 20  # a config file is a few KB; a bigger one is a mistake or an attack
MAX_ALIASES = 100  # YAML aliases per file
MAX_NODES = 100_000  # nodes once aliases are expanded ("billion laughs": a few lines, a billion nodes)
TRUTHY, FALSY = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Entry:
    key: str  # dotted setting
    raw: Any
    source: str  # "default", "/path/config.yaml:3", "env NAME", "/path/.env:2 (NAME)", "flag --x", "/model"
    parts: tuple[tuple[str, str], ...] = ()  # a free-form mapping's names and their lines ("mine", "f:3")


def short(value: Any, limit: int = 60) -> str:
    """A value for an error line: a bounded repr, so a huge or deeply shared value never floods the terminal."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxlist, shown.maxdict, shown.maxtuple = 2, 4, 4, 4
    shown.maxstring = shown.maxother = limit
    text = shown.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _clip(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# -- YAML ---------------------------------------------------------------------------------------
def _loader_class() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that counts aliases: a few nested anchors can stand for millions of nodes."""

        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise ConfigError(f"{self.name}:{mark.line + 1}: more than {MAX_ALIASES} YAML aliases "
                                      "(*name); refusing a file that expands like an alias bomb")
            return super().compose_node(parent, index)

    return Loader


def _expanded_size(node: Any) -> int:
    """How many nodes the document has with every alias expanded (shared nodes counted each time)."""
    sizes: dict[int, int] = {}

    def size(item: Any) -> int:
        if id(item) in sizes:
            return sizes[id(item)]
        sizes[id(item)] = 1  # a recursive alias counts once instead of looping
        children = item.value if isinstance(item.value, list) else []
        total = 1 + sum(size(c[0]) + size(c[1]) if isinstance(c, tuple) else size(c) for c in children)
        sizes[id(item)] = min(total, MAX_NODES + 1)
        return sizes[id(item)]

    return size(node)


def _key_lines(node: Any, prefix: str = "", depth: int = 0, lines: dict[str, int] | None = None) -> dict[str, int]:
    """1-based line of each key, three levels deep ("custom_toolsets.mine.tools")."""
    import yaml

    lines = {} if lines is None else lines
    if not isinstance(node, yaml.MappingNode) or depth > 2:
        return lines
    for key_node, value_node in node.value:
        dotted = f"{prefix}{key_node.value}"
        lines.setdefault(dotted, key_node.start_mark.line + 1)
        _key_lines(value_node, f"{dotted}.", depth + 1, lines)
    return lines


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The mapping in a config file and the line of each key; ConfigError (one short line) if unusable."""
    import yaml

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes; a config file may be at most {MAX_FILE_BYTES:,} bytes")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                          "save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    loader = _loader_class()(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node) > MAX_NODES:
            raise ConfigError(f"{path}: its YAML aliases expand to more than {MAX_NODES:,} values; "
                              "refusing it (an alias bomb?)")
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {_clip(exc.problem or str(exc))}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_clip(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config file") from None
    finally:
        loader.dispose()
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the top level must be a mapping of settings, not {type(data).__name__}")
    return data, _key_lines(node)


def _unknown(where: str, dotted: str, choices: list[str]) -> str:
    prefix, _, key = dotted.rpartition(".")
    import difflib  # only when something is wrong

    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    hint = f" (did you mean '{f'{prefix}.' if prefix else ''}{close[0]}'?)" if close else ""
    return f"{where}: unknown key '{dotted}' ignored{hint}"


def file_entries(path: Path, warnings: list[str]) -> list[Entry]:
    """One Entry per setting the file sets; unknown keys become warnings with a did-you-mean."""
    data, lines = read_yaml(path)
    if isinstance(data.get("model"), str):  # `model: name` is shorthand for model.default
        data = dict(data, model={"default": data["model"]})
        lines.setdefault("model.default", lines.get("model", 0))

    def where(dotted: str) -> str:
        line = lines.get(dotted)
        return f"{path}:{line}" if line else str(path)

    entries: list[Entry] = []
    for key, value in data.items():
        key = str(key)
        if key in BY_KEY:  # a top-level setting (toolsets, custom_toolsets, ...)
            entries.append(Entry(key, value, where(key), _parts(key, value, where)))
        elif key not in known_keys():
            warnings.append(_unknown(where(key), key, known_keys()))
        elif value is None:
            continue
        elif not isinstance(value, dict):
            raise ConfigError(f"{where(key)}: {short(value)} is not valid for {key}; expected a mapping of "
                              f"{key} settings")
        else:
            allowed = known_keys(key)
            for sub, sub_value in value.items():
                dotted = f"{key}.{sub}"
                dotted_key = ALIASES.get(dotted, dotted)
                if dotted_key in BY_KEY:
                    entries.append(Entry(dotted_key, sub_value, where(dotted), _parts(dotted_key, sub_value, where)))
                else:
                    warnings.append(_unknown(where(dotted), dotted, allowed))
    return entries


def _parts(key: str, value: Any, where: Any) -> tuple[tuple[str, str], ...]:
    if key not in FREE_FORM or not isinstance(value, dict):
        return ()
    return tuple((str(name), where(f"{key}.{name}")) for name in value)


# -- .env and the environment -------------------------------------------------------------------
def read_dotenv(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Variables in a .env file and their lines; ConfigError naming the line if it is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {len(raw):,} bytes; a .env file may be at most {MAX_FILE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 (byte {raw[exc.start]:#04x}); save the file as UTF-8") from None
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if match := re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line):
            lines.setdefault(match.group(1), number)
    return values, lines


def env_entries(environ: dict[str, str], dotenv_sources: dict[str, str], fallback: bool) -> list[Entry]:
    """Entries for settings that variables set (`fallback`: the low-priority ones like LLM_MODEL)."""
    entries: list[Entry] = []
    for spec in FIELDS:
        for name in spec.fallback_env if fallback else spec.env:
            value = environ.get(name)
            if value is None or (not value.strip() and spec.key != "approvals.mode"):
                continue
            source = dotenv_sources.get(name, f"env {name}")
            if spec.key == "approvals.mode":  # HERMES_YOLO=1 means approvals.mode yolo
                flag = value.strip().lower()
                if flag in FALSY:
                    continue
                entries.append(Entry(spec.key, "yolo" if flag in TRUTHY else _NotBool(value), source))
            else:
                entries.append(Entry(spec.key, value, source))
            break
    return entries


class _NotBool(str):
    """A HERMES_YOLO value that is neither true nor false (validate.py names it)."""


# -- flags ----------------------------------------------------------------------------------------
# argparse dest -> (setting, flag as typed); on/off switches carry the value they set.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "model": ("model.default", "--model"),
    "base_url": ("model.base_url", "--base-url"),
    "api_key": ("model.api_key", "--api-key"),
    "toolsets": ("toolsets", "--toolsets"),
    "disabled_toolsets": ("disabled_toolsets", "--disabled-toolsets"),
    "max_turns": ("agent.max_turns", "--max-turns"),
    "personality": ("agent.personality", "--personality"),
    "system_prompt": ("agent.system_prompt", "--system-prompt"),
    "approval_mode": ("approvals.mode", "--approval-mode"),
    "stall_timeout": ("model.stall_timeout", "--stall-timeout"),
    "sandbox": ("terminal.sandbox", "--sandbox"),
    "spinner": ("display.spinner", "--spinner"),
}
SWITCHES: dict[str, tuple[str, Any, str]] = {
    "no_stream": ("agent.stream", False, "--no-stream"),
    "rollout": ("agent.token_capture", True, "--rollout"),
    "yolo": ("approvals.mode", "yolo", "--yolo"),
}


def flag_entries(flags: dict[str, Any]) -> list[Entry]:
    """Entries from parsed flags (argparse dests); unset flags (None/False) set nothing."""
    entries = []
    for dest, (key, flag) in FLAG_KEYS.items():
        value = flags.get(dest)
        if value is not None and value != "":
            entries.append(Entry(key, value, f"flag {flag}"))
    for dest, (key, value, flag) in SWITCHES.items():
        if flags.get(dest):
            entries.append(Entry(key, value, f"flag {flag}"))
    return entries


def is_free_form(key: str) -> bool:
    return key in FREE_FORM
