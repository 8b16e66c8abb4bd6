"""Toolset distributions: for varied training data, each batch sample draws its own toolsets.

A distribution maps toolset names to the percent chance that a sample gets that toolset. Each
toolset is drawn independently; a draw that enables nothing is replaced by the most likely
toolset, so every sample has at least one. More distributions can be defined in config under
`batch.distributions: {name: {toolset: percent}}` (a config entry replaces a built-in of the same
name).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import toolsets

Distribution = dict[str, float]

DISTRIBUTIONS: dict[str, Distribution] = {
    "default": {"terminal": 100, "file": 100, "web": 100, "browser": 100, "skills": 100},
    "development": {"terminal": 100, "file": 100, "skills": 50, "web": 30},
    "terminal_only": {"terminal": 100},
    "terminal_file": {"terminal": 100, "file": 100},
    "research": {"web": 100, "browser": 60, "skills": 40, "file": 30},
    "web_only": {"web": 100},
    "browser_use": {"browser": 100, "web": 80, "file": 20},
    "safe": {"safe": 100},
    "balanced": {"terminal": 50, "file": 50, "web": 50, "browser": 50, "skills": 50},
    "minimal": {"terminal": 100, "file": 40},
}

DESCRIPTIONS: dict[str, str] = {
    "default": "every toolset, every sample",
    "development": "terminal and files always; skills and web sometimes",
    "terminal_only": "just the terminal",
    "terminal_file": "terminal and files",
    "research": "web always; browser, skills and files sometimes",
    "web_only": "just the web tools",
    "browser_use": "browser always; web usually",
    "safe": "the read-only `safe` toolset (no commands, no writes)",
    "balanced": "each basic toolset with even odds",
    "minimal": "terminal, sometimes files",
}


class UnknownDistributionError(ValueError):
    pass


def all_distributions(extra: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Distribution]:
    merged = dict(DISTRIBUTIONS)
    for name, table in (extra or {}).items():
        merged[name] = validate(name, table)
    return merged


def validate(name: str, table: Mapping[str, float]) -> Distribution:
    if not isinstance(table, Mapping) or not table:
        raise UnknownDistributionError(f"distribution '{name}' must map toolset names to percents")
    out: Distribution = {}
    for toolset, percent in table.items():
        if not toolsets.validate_toolset(toolset):
            raise UnknownDistributionError(f"distribution '{name}' names an unknown toolset '{toolset}'")
        if not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
            raise UnknownDistributionError(f"distribution '{name}': '{toolset}' needs a percent from 0 to 100")
        out[toolset] = float(percent)
    return out


def get_distribution(name: str, extra: Mapping[str, Mapping[str, float]] | None = None) -> Distribution:
    known = all_distributions(extra)
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownDistributionError(
            f"unknown distribution '{name}'{hint}; see --list-distributions")
    return known[name]


def sample_toolsets(distribution: Distribution, rng: random.Random) -> list[str]:
    """One independent draw per toolset; never empty."""
    chosen = [name for name, percent in distribution.items() if rng.random() * 100 < percent]
    return chosen or [max(distribution, key=lambda name: distribution[name])]


def describe(extra: Mapping[str, Mapping[str, float]] | None = None) -> str:
    lines = []
    for name, table in all_distributions(extra).items():
        odds = ", ".join(f"{toolset} {percent:g}%" for toolset, percent in table.items())
        about = DESCRIPTIONS.get(name, "from config")
        lines.append(f"  {name:<14} {about}\n  {'':<14} {odds}")
    return "\n".join(lines)
