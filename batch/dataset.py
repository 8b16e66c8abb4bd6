"""The prompt dataset of a batch run: one JSON object per line with a `prompt`.

Optional per row: `toolsets` (list or comma string), `image` (container image for this sample's
terminal), `images` (pictures sent with the prompt: a path or a list, relative to the dataset's
directory; checked as `--image` is, agent/images.py), `cwd`, and any other fields, which are kept as
the sample's metadata.

Samples are identified by content, not position: the key is a hash of the prompt plus how many
times the same prompt appeared before it, so resuming works after the file is reordered or
extended, and duplicate prompts stay distinct samples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

RESERVED = {"prompt", "toolsets", "image", "images", "cwd"}


@dataclass(frozen=True)
class Sample:
    index: int
    key: str
    prompt: str
    toolsets: list[str] | None = None
    image: str | None = None
    cwd: str | None = None
    images: tuple[Path, ...] = ()  # pictures for the prompt (see agent/images.py)
    metadata: dict[str, Any] = field(default_factory=dict)


def sample_key(prompt: str, occurrence: int) -> str:
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]
    return f"{digest}-{occurrence}" if occurrence else digest


def _toolsets(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where}: `toolsets` must be a list of names or a comma-separated string")


def _images(value: Any, base: Path, where: str) -> tuple[Path, ...]:
    """The row's picture paths, each checked now (a bad one stops the run before any model call)."""
    from agent.images import ImageError, load_image

    if value is None:
        return ()
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{where}: `images` must be a path or a list of paths")
    try:
        return tuple(load_image(path, base).path for path in paths)
    except ImageError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_dataset(path: Path, max_samples: int | None = None) -> list[Sample]:
    """Read and check the whole file first, so a bad line stops the run before any model call."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"dataset {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read dataset {path}: {exc}") from None
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise ConfigError(f"{where}: each line needs a non-empty string field `prompt`")
        prompt = row["prompt"]
        occurrence = seen.get(prompt, 0)
        seen[prompt] = occurrence + 1
        samples.append(Sample(
            index=len(samples), key=sample_key(prompt, occurrence), prompt=prompt,
            toolsets=_toolsets(row.get("toolsets"), where),
            image=row.get("image") or row.get("docker_image"), cwd=row.get("cwd"),
            images=_images(row.get("images"), path.parent, where),
            metadata={k: v for k, v in row.items() if k not in RESERVED and k != "docker_image"},
        ))
        if max_samples is not None and len(samples) >= max_samples:
            break
    if not samples:
        raise ConfigError(f"dataset {path} has no prompts")
    return samples
