"""Checks that span settings: toolset and tool names, custom toolsets, personalities, distributions,
MCP servers and hooks.

Each returns problem lines (empty when all is well), in the same one-line form as validate.py.
"""

from __future__ import annotations

from typing import Any

from agent.settings.model import Settings
from agent.settings.sources import short


def _hint(name: str, choices: list[str]) -> str:
    import difflib  # only when something is wrong

    close = difflib.get_close_matches(name, choices, n=2)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def custom_toolsets(settings: Settings) -> list[str]:
    """Define the configured toolsets (in `toolsets.TOOLSETS`) after checking every tool they name."""
    import toolsets

    known_tools = sorted({tool for spec in toolsets.TOOLSETS.values() for tool in spec["tools"]})
    problems: list[str] = []
    for name, definition in settings.custom_toolsets.items():
        where = settings.sources.get(f"custom_toolsets.{name}") or settings.source("custom_toolsets")
        if not isinstance(definition, dict):
            problems.append(f"{where}: custom_toolsets.{name} is {short(definition)}; expected a mapping "
                            "with tools, includes and description")
            continue
        tools, includes = definition.get("tools") or [], definition.get("includes") or []
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            problems.append(f"{where}: custom_toolsets.{name}.tools is {short(tools)}; expected a list of tool names")
            continue
        if not isinstance(includes, list) or not all(isinstance(t, str) for t in includes):
            problems.append(f"{where}: custom_toolsets.{name}.includes is {short(includes)}; "
                            "expected a list of toolset names")
            continue
        bad = [t for t in tools if t not in known_tools]
        for tool in bad:
            problems.append(f"{where}: custom_toolsets.{name} names unknown tool '{tool}'"
                            f"{_hint(tool, known_tools)}; see hermes --list-tools")
        missing = [i for i in includes if not toolsets.validate_toolset(i) and i not in settings.custom_toolsets]
        for included in missing:
            problems.append(f"{where}: custom_toolsets.{name} includes unknown toolset '{included}'"
                            f"{_hint(included, toolsets.get_toolset_names())}; see hermes --list-toolsets")
        if not bad and not missing:
            toolsets.TOOLSETS[str(name)] = {"description": str(definition.get("description") or ""),
                                            "tools": list(tools), "includes": list(includes)}
    return problems


def toolset_names(settings: Settings) -> list[str]:
    import toolsets

    problems = []
    for key in ("toolsets", "disabled_toolsets"):
        for name in settings.get(key):
            if not toolsets.validate_toolset(name):
                problems.append(f"{settings.source(key)}: unknown toolset '{name}' in {key}"
                                f"{_hint(name, toolsets.get_toolset_names())}; see hermes --list-toolsets")
    return problems


def personalities(settings: Settings) -> list[str]:
    from agent.personalities import personality_names, resolve_personality

    custom = settings.agent.personalities
    problems = [f"{settings.sources.get(f'agent.personalities.{name}') or settings.source('agent.personalities')}: "
                f"agent.personalities.{name} is {short(text)}; expected the text to add to the prompt"
                for name, text in custom.items() if not isinstance(text, str)]
    if problems:
        return problems
    name = settings.agent.personality
    try:
        resolve_personality(name, custom)
    except KeyError:
        choices = personality_names(custom)
        return [f"{settings.source('agent.personality')}: unknown personality '{name}'{_hint(str(name), choices)}; "
                f"choose from {', '.join(choices)}, or none"]
    return []


def distributions(settings: Settings) -> list[str]:
    problems = []
    for name, spec in settings.batch.distributions.items():
        where = settings.sources.get(f"batch.distributions.{name}") or settings.source("batch.distributions")
        if not isinstance(spec, dict) or not all(_percent(v) for v in spec.values()):
            problems.append(f"{where}: batch.distributions.{name} is {short(spec)}; "
                            "expected {toolset: percent 0-100, ...}")
    return problems


def _percent(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def extensions(settings: Settings, environ: dict[str, str]) -> list[str]:
    """Parse `mcp_servers:` and `hooks:` into `settings.extensions` and define the `mcp` toolsets.

    Runs before the toolset names are checked, so `--toolsets mcp-files` is a known name. `environ`
    expands `${VAR}` in server entries and holds the bearer tokens they name.
    """
    from agent.errors import ConfigError

    files = {key: _file(source) for key, source in settings.sources.items()
             if key in ("mcp_servers", "hooks") or key.startswith(("mcp_servers.", "hooks."))}
    problems = []
    if settings.hooks:  # nothing imported or parsed for the common case
        from agent.hooks_config import parse_hooks

        try:
            settings.extensions.hooks = parse_hooks(settings.hooks, files.get("hooks"))
        except ConfigError as exc:
            problems.append(str(exc))
    if settings.mcp_servers:
        from mcp_client.config import parse_servers
        from mcp_client.tools import define_toolsets

        try:
            settings.extensions.servers = parse_servers(settings.mcp_servers, files.get("mcp_servers"), files, environ)
        except ConfigError as exc:
            problems.append(str(exc))
        else:
            define_toolsets([s.name for s in settings.extensions.servers])
    return problems


def _file(source: str) -> str:
    """The file of a source such as `/home/u/.hermes/config.yaml:12`."""
    path, _, line = source.rpartition(":")
    return path if line.isdigit() and path else source


ALL = (custom_toolsets, toolset_names, personalities, distributions)
