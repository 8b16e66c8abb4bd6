"""Toolsets: named groups of tools the model may see, composed through `includes`.

Tools reach the model only through a toolset. `all` (or `*`) means every toolset. Custom toolsets can
be added at run time (`create_custom_toolset`) or from config (`custom_toolsets:`).
"""

from __future__ import annotations

import difflib
from typing import TypedDict


class ToolsetDef(TypedDict):
    description: str
    tools: list[str]
    includes: list[str]


TOOLSETS: dict[str, ToolsetDef] = {
    # Basic toolsets: one capability each.
    "terminal": {"description": "Run shell commands (and manage background ones)", "tools": ["terminal", "process"],
                 "includes": []},
    "file": {
        "description": "Read, write, patch and search files",
        "tools": ["read_file", "write_file", "patch", "search_files"],
        "includes": [],
    },
    "web": {
        "description": "Search the web, extract and crawl pages",
        "tools": ["web_search", "web_extract", "web_crawl"],
        "includes": [],
    },
    "browser": {
        "description": "Drive a headless browser",
        "tools": [
            "browser_navigate", "browser_snapshot", "browser_click", "browser_type", "browser_scroll",
            "browser_back", "browser_press", "browser_get_images", "browser_close",
        ],
        "includes": [],
    },
    "skills": {
        "description": "Load on-demand knowledge from skill documents",
        "tools": ["skills_categories", "skills_list", "skill_view"],
        "includes": [],
    },
    "todo": {"description": "Keep a visible task list while working", "tools": ["todo"], "includes": []},
    # Composites for common jobs.
    "development": {
        "description": "Write and run code: terminal, files, skills",
        "tools": [],
        "includes": ["terminal", "file", "skills", "todo"],
    },
    "debugging": {
        "description": "Investigate problems: terminal, files and the web",
        "tools": [],
        "includes": ["terminal", "file", "web", "todo"],
    },
    "research": {
        "description": "Find and read information: web, browser, skills",
        "tools": [],
        "includes": ["web", "browser", "skills", "todo"],
    },
    "safe": {
        "description": "No command execution and no file writes",
        "tools": ["read_file", "search_files"],
        "includes": ["web", "browser", "skills", "todo"],
    },
    "offline": {
        "description": "Everything that works without network access",
        "tools": [],
        "includes": ["terminal", "file", "skills", "todo"],
    },
    "minimal": {"description": "Only the terminal", "tools": [], "includes": ["terminal"]},
    "full_stack": {
        "description": "Every capability",
        "tools": [],
        "includes": ["terminal", "file", "web", "browser", "skills", "todo"],
    },
}

ALL_ALIASES = frozenset({"all", "*"})


class UnknownToolsetError(ValueError):
    def __init__(self, name: str):
        self.name = name
        close = difflib.get_close_matches(name, get_toolset_names(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"unknown toolset '{name}'{hint}; see --list-toolsets")


def get_toolset_names() -> list[str]:
    return list(TOOLSETS)


def validate_toolset(name: str) -> bool:
    return name in ALL_ALIASES or name in TOOLSETS


def resolve_toolset(name: str, visited: set[str] | None = None) -> list[str]:
    """Tool names in `name` and everything it includes, in first-seen order. Cycles are cut, not fatal."""
    if name in ALL_ALIASES:
        return resolve_multiple_toolsets(get_toolset_names())
    if name not in TOOLSETS:
        raise UnknownToolsetError(name)
    visited = set() if visited is None else visited
    if name in visited:
        return []
    visited.add(name)
    definition = TOOLSETS[name]
    tools = list(definition["tools"])
    for included in definition["includes"]:
        tools.extend(resolve_toolset(included, visited))
    return list(dict.fromkeys(tools))


def resolve_multiple_toolsets(names: list[str]) -> list[str]:
    tools: list[str] = []
    for name in names:
        tools.extend(resolve_toolset(name))
    return list(dict.fromkeys(tools))


def create_custom_toolset(
    name: str, description: str = "", tools: list[str] | None = None, includes: list[str] | None = None
) -> None:
    """Define (or redefine) a toolset. Included names must already exist."""
    for included in includes or []:
        if not validate_toolset(included):
            raise UnknownToolsetError(included)
    TOOLSETS[name] = {"description": description, "tools": list(tools or []), "includes": list(includes or [])}


def parse_toolset_list(value: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Turn "web, terminal" or ["web", "terminal"] into a list, checking every name."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    names = [item.strip() for item in items if item.strip()]
    for name in names:
        if not validate_toolset(name):
            raise UnknownToolsetError(name)
    return names
