"""Writing one setting back to $HERMES_HOME/config.yaml (reading is agent/settings)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from agent.settings.sources import read_yaml


def save_config_value(dotted_key: str, value: Any, path: Path) -> Path:
    """Set one setting in the config file at `path`, keeping the others; atomic (temp file + rename).

    The file is re-serialised by PyYAML, so comments and formatting in it are lost; settings are not.
    A file that does not parse is left alone (ConfigError) rather than overwritten.
    """
    import yaml

    data = read_yaml(path)[0] if path.is_file() else {}
    if isinstance(data.get("model"), str):  # expand the shorthand before setting model.*
        data["model"] = {"default": data["model"]}
    node = data
    *parents, leaf = dotted_key.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True, default_flow_style=False)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
