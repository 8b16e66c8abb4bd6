"""The prompt dataset of a batch run: one JSON object per line with a `prompt`.

Optional per row: `toolsets` (list or comma string), `image` (container image for this sample's
terminal), `images` (pictures sent with the prompt: a path or a list, relative to the dataset's
directory; checked as `--image` is, agent/images.py), `cwd`, `verify` (a verifier command:
batch/verifier.py), sampling overrides (`temperature`, `top_p`, `seed`, `max_tokens`), and any other
fields, which are kept as the sample's metadata.

Rows are identified by content, not position: the row key (the group id of its samples) is a hash
of the prompt plus how many times the same prompt appeared before it, so resuming works after the
file is reordered or extended, and duplicate prompts stay distinct rows. With `--n K` each row
becomes K samples keyed (row key, sample index): sample 0 keeps the bare row key, so a run made
with K=1 resumes with a larger K and runs only the new samples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

RESERVED = {"prompt", "toolsets", "image", "images", "cwd", "verify"}
SAMPLING_FIELDS = ("temperature", "top_p", "seed", "max_tokens")


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
    verify: str | None = None  # this row's verifier command
    sampling: dict[str, Any] = field(default_factory=dict)  # this row's sampling overrides
    group: str = ""  # the row key: the K samples of one prompt share it (Atropos groups by it)
    sample: int = 0  # index of this sample among its row's K


def sample_key_of(group: str, sample: int) -> str:
    """(row key, sample index) -> the sample's key; sample 0 is the bare row key (runs made before
    `--n` existed resume as they were)."""
    return group if sample == 0 else f"{group}~{sample}"


def expand(rows: list[Sample], n: int) -> list[Sample]:
    """K samples per row, in row order (all samples of a row next to each other)."""
    from dataclasses import replace

    return [replace(row, key=sample_key_of(row.group, j), sample=j) for row in rows for j in range(n)]


def shard_of(group: str, shards: int) -> int:
    """The 1-based shard a row belongs to: from its key (a hash of the prompt), so every machine
    splits the same dataset the same way, rows never move when the file is reordered, and the
    samples of one row stay together."""
    return int(group.split("-")[0][:12], 16) % shards + 1


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


def _verify(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ConfigError(f"{where}: `verify` must be a non-empty shell command string")


def _sampling(row: dict[str, Any], where: str) -> dict[str, Any]:
    """The row's sampling overrides, checked like the flags."""
    out: dict[str, Any] = {}
    for name in SAMPLING_FIELDS:
        if row.get(name) is None:
            continue
        value = row[name]
        integer = name in ("seed", "max_tokens")
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise ConfigError(f"{where}: `{name}` must be {'an integer' if integer else 'a number'}")
        out[name] = value
    if out.get("max_tokens", 1) < 1:
        raise ConfigError(f"{where}: `max_tokens` must be at least 1")
    return out


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
        key = sample_key(prompt, occurrence)
        samples.append(Sample(
            index=len(samples), key=key, prompt=prompt,
            toolsets=_toolsets(row.get("toolsets"), where),
            image=row.get("image") or row.get("docker_image"), cwd=row.get("cwd"),
            images=_images(row.get("images"), path.parent, where),
            metadata={k: v for k, v in row.items()
                      if k not in RESERVED and k not in SAMPLING_FIELDS and k != "docker_image"},
            verify=_verify(row.get("verify"), where), sampling=_sampling(row, where), group=key,
        ))
        if max_samples is not None and len(samples) >= max_samples:
            break
    if not samples:
        raise ConfigError(f"dataset {path} has no prompts")
    return samples
