"""Skill discovery: bundled `skills/` plus `$HERMES_HOME/skills` (a user skill overrides a bundled one by name).

Layout: `<root>/<category>/<skill>/SKILL.md` (a skill directly under the root is in category
`general`), with optional `references/`, `templates/`, `scripts/` beside it. A category may describe
itself in `<root>/<category>/DESCRIPTION.md`. SKILL.md starts with YAML front matter:

    ---
    name: git-workflow
    description: One line saying when to use it
    tags: [git, review]
    related_skills: [debugging-python]
    version: 1.0.0
    ---
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "skills"
LINKED_DIRS = ("references", "templates", "scripts")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_FILE_CHARS = 100_000


@dataclass
class Skill:
    name: str
    description: str
    category: str
    path: Path  # the skill's directory
    source: str  # "bundled" or "user"
    tags: list[str] = field(default_factory=list)
    related_skills: list[str] = field(default_factory=list)
    version: str | None = None
    body: str = ""

    def linked_files(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for sub in LINKED_DIRS:
            folder = self.path / sub
            if folder.is_dir():
                files[sub] = sorted(str(p.relative_to(self.path)) for p in folder.rglob("*")
                                    if p.is_file() and "__pycache__" not in p.parts)  # bytecode is no skill file
        return files


@dataclass
class Catalog:
    skills: dict[str, Skill]
    problems: list[dict[str, str]]  # malformed skills: skill, path, reason
    category_notes: dict[str, str]


def user_dir() -> Path:
    from recording.paths import hermes_home

    return hermes_home() / "skills"


class SkillError(ValueError):
    pass


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    import yaml

    if not text.startswith("---"):
        raise SkillError("no YAML front matter (SKILL.md must start with a '---' line)")
    match = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, re.S)
    if not match:
        raise SkillError("front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise SkillError(f"front matter is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(meta, dict):
        raise SkillError("front matter must be a YAML mapping (name: ..., description: ...)")
    return meta, text[match.end():]


def _string_list(meta: dict[str, Any], key: str) -> list[str]:
    value = meta.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SkillError(f"'{key}' must be a list of strings")
    return value


def parse_skill(skill_md: Path, category: str, source: str) -> Skill:
    try:
        text = skill_md.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"cannot read SKILL.md: {exc}") from None
    meta, body = split_front_matter(text)
    name, description = meta.get("name"), meta.get("description")
    if not isinstance(name, str) or not name.strip():
        raise SkillError("front matter has no 'name'")
    if not NAME_RE.match(name.strip()):
        raise SkillError(f"name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(description, str) or not description.strip():
        raise SkillError("front matter has no 'description'")
    version = meta.get("version")
    return Skill(name=name.strip(), description=" ".join(description.split()), category=category,
                 path=skill_md.parent, source=source, tags=_string_list(meta, "tags"),
                 related_skills=_string_list(meta, "related_skills"),
                 version=str(version) if version is not None else None, body=body.strip())


def _scan(root: Path, source: str, catalog: Catalog) -> None:
    if not root.is_dir():
        return
    found: dict[str, Skill] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root).parts
        if len(rel) == 1 and "DESCRIPTION.md" in filenames and "SKILL.md" not in filenames:
            catalog.category_notes.setdefault(rel[0], _first_line(here / "DESCRIPTION.md"))
        if "SKILL.md" not in filenames:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            continue
        dirnames[:] = []  # references/, templates/ … belong to this skill
        category = rel[0] if len(rel) > 1 else "general"
        try:
            skill = parse_skill(here / "SKILL.md", category, source)
        except SkillError as exc:
            catalog.problems.append({"skill": here.name, "path": str(here / "SKILL.md"), "reason": str(exc)})
            continue
        if skill.name in found:
            catalog.problems.append({"skill": skill.name, "path": str(here / "SKILL.md"),
                                     "reason": f"duplicate name; {found[skill.name].path} is used"})
            continue
        found[skill.name] = skill
    catalog.skills.update(found)  # user skills are scanned last and so replace bundled ones


def _first_line(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    if text.startswith("---"):
        try:
            meta, text = split_front_matter(text)
            if isinstance(meta.get("description"), str):
                return meta["description"].strip()
        except SkillError:
            pass
    return next((line.strip("# ").strip() for line in text.splitlines() if line.strip()), "")


def load_catalog(bundled: Path | None = None, user: Path | None = None) -> Catalog:
    catalog = Catalog(skills={}, problems=[], category_notes={})
    _scan(bundled or BUNDLED_DIR, "bundled", catalog)
    _scan(user or user_dir(), "user", catalog)
    return catalog


def read_linked_file(skill: Skill, file_path: str) -> str:
    """Text of a file inside the skill's directory; anything that resolves outside it is refused."""
    if not file_path or os.path.isabs(file_path):
        raise SkillError(f"file_path must be relative to the skill, e.g. {_example(skill)}")
    root = skill.path.resolve()
    target = (root / file_path).resolve()
    if target != root and root not in target.parents:
        raise SkillError(f"{file_path} is outside the skill '{skill.name}'; only its own files can be opened")
    if not target.is_file():
        listed = [f for files in skill.linked_files().values() for f in files]
        hint = f" Files: {', '.join(listed)}" if listed else " This skill has no linked files."
        raise SkillError(f"no file {file_path} in skill '{skill.name}'.{hint}")
    data = target.read_bytes()
    if b"\0" in data[:8192]:
        raise SkillError(f"{file_path} is a binary file ({len(data)} bytes)")
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_FILE_CHARS:
        text = text[:MAX_FILE_CHARS] + f"\n[cut at {MAX_FILE_CHARS:,} of {len(text):,} chars]"
    return text


def _example(skill: Skill) -> str:
    files = [f for group in skill.linked_files().values() for f in group]
    return files[0] if files else "references/notes.md"
