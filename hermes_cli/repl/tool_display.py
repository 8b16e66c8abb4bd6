"""What the REPL shows under a tool line: the coloured diff of an edit, and the `/verbose` view.

The diff comes from what the tool returned (patch: `diff`; write_file: `diff` when it overwrote a
file) or, for a file write_file created, from the content in its arguments: never from reading
the file again later, when it may have changed. It is cut to `DIFF_LINES` lines with a
"… N more lines (/verbose)" note; `/verbose` shows it whole.

`/verbose` shows arguments and results as a reader wants them: text with newlines (a command's
output, a file's content, a diff) as real lines, everything else as syntax-highlighted JSON; never
a JSON string with `\\n` escapes in it.
"""

from __future__ import annotations

import json
from typing import Any

from hermes_cli.repl.text import clean_text, clip_block

DIFF_LINES = 12
EDIT_TOOLS = frozenset({"patch", "write_file"})


def _result_data(result: str) -> Any:
    try:
        return json.loads(result)
    except (json.JSONDecodeError, TypeError):
        return None


def edit_diff(name: str, arguments: dict[str, Any] | None, result: str) -> str | None:
    """The unified diff a successful patch / write_file made, or None."""
    if name not in EDIT_TOOLS:
        return None
    data = _result_data(result)
    if not isinstance(data, dict) or data.get("error"):
        return None
    if isinstance(data.get("diff"), str) and data["diff"].strip():
        return data["diff"]
    content = (arguments or {}).get("content")
    if name == "write_file" and data.get("action") == "created" and isinstance(content, str):
        lines = content.splitlines()
        base = str(data.get("path") or (arguments or {}).get("path") or "file").rsplit("/", 1)[-1]
        return "".join([f"--- /dev/null\n+++ b/{base}\n@@ -0,0 +1,{len(lines)} @@\n", *(f"+{line}\n" for line in lines)])
    return None


def diff_text(diff: str, limit: int | None = DIFF_LINES) -> Any:
    """The diff as rich Text: additions green, removals red, hunk headers cyan; cut past `limit`."""
    from rich.text import Text

    lines = clean_text(diff).rstrip("\n").split("\n")
    shown = lines if limit is None else lines[:limit]
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, line in enumerate(shown):
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = "dim"
        out.append(line, style=style)
        if i < len(shown) - 1:
            out.append("\n")
    if len(lines) > len(shown):
        more = len(lines) - len(shown)
        out.append(f"\n… {more} more line{'s' if more != 1 else ''} (/verbose)", style="dim italic")
    return out


def _split(value: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fields for the JSON view, and text fields JSON would escape, to show as they are."""
    plain: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str) and json.dumps(item, ensure_ascii=False) != f'"{item}"':
            texts[key] = item  # newlines, quotes or backslashes: JSON would escape them
        else:
            plain[key] = item
    return plain, texts


def _json(value: Any, theme: str) -> Any:
    from rich.syntax import Syntax

    return Syntax(json.dumps(value, indent=2, ensure_ascii=False), "json", theme=theme, background_color="default",
                  word_wrap=True)


def _section(parts: list[Any], title: str, value: Any, width: int, theme: str, skip: frozenset[str]) -> None:
    from rich.text import Text

    parts.append(Text(title, style="bold"))
    if isinstance(value, dict):
        plain, texts = _split({k: v for k, v in value.items() if k not in skip})
        if plain:
            parts.append(_json(plain, theme))
        for key, text in texts.items():
            parts.append(Text(f"{key}:", style="bold dim"))
            parts.append(Text(clip_block(clean_text(text), width)))
    elif isinstance(value, str):
        parts.append(Text(clip_block(clean_text(value), width) or "(empty)"))
    else:
        parts.append(_json(value, theme))


def verbose_body(name: str, arguments: dict[str, Any] | None, result: str, width: int, theme: str) -> Any:
    """The `/verbose` view of one call: its arguments, then its result (a diff shown beside is left out)."""
    from rich.console import Group

    parts: list[Any] = []
    if arguments is not None:
        _section(parts, "arguments", arguments, width, theme, frozenset())
    data = _result_data(result)
    edited = edit_diff(name, arguments, result) is not None
    _section(parts, "result", data if data is not None else str(result), width, theme,
             frozenset({"diff"}) if edited else frozenset())
    return Group(*parts)
