"""Where a nested key sits in a YAML file, for one-line `file:line: ...` config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def key_line(path: str | Path | None, *keys: str | int) -> int | None:
    """1-based line of `keys` (mapping keys or list indexes) in the YAML file, or None."""
    if not path:
        return None
    import yaml

    try:
        node: Any = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(key)), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def where(path: str | Path | None, *keys: str | int) -> str:
    """`file:line` (or `file`, or `config`) for an error message."""
    if not path:
        return "config"
    line = key_line(path, *keys)
    return f"{path}:{line}" if line else str(path)
