"""The `skills` toolset: skills_categories, skills_list and skill_view (progressive disclosure).

The model first sees names and one-line descriptions, then opens one skill's SKILL.md, then (only
if needed) one of its linked files. Skills are read from disk on every call, so a skill written
during a session is usable at once.
"""

from __future__ import annotations

from typing import Any

from tools import skills_store
from tools.registry import Tool, ToolContext, register, tool_error, tool_result


def _problems(catalog: skills_store.Catalog) -> dict[str, Any]:
    return {"skipped": catalog.problems} if catalog.problems else {}


def skills_categories(args: dict[str, Any], ctx: ToolContext) -> str:
    catalog = skills_store.load_catalog()
    counts: dict[str, int] = {}
    for skill in catalog.skills.values():
        counts[skill.category] = counts.get(skill.category, 0) + 1
    categories = [{"name": name, "description": catalog.category_notes.get(name, ""), "skills": count}
                  for name, count in sorted(counts.items())]
    return tool_result(categories=categories, hint="skills_list category=NAME lists a category's skills",
                       **_problems(catalog))


def skills_list(args: dict[str, Any], ctx: ToolContext) -> str:
    catalog = skills_store.load_catalog()
    category = (args.get("category") or "").strip() or None
    skills = sorted(catalog.skills.values(), key=lambda s: (s.category, s.name))
    if category:
        known = sorted({s.category for s in skills})
        if category not in known:
            return tool_error(f"no skill category '{category}'. Categories: {', '.join(known) or 'none'}")
        skills = [s for s in skills if s.category == category]
    rows = [{"name": s.name, "category": s.category, "description": s.description, "tags": s.tags}
            | ({"source": "user"} if s.source == "user" else {}) for s in skills]
    return tool_result(skills=rows, count=len(rows), hint="skill_view name=NAME opens one",
                       **_problems(catalog))


def find_skill(catalog: skills_store.Catalog, name: str) -> skills_store.Skill:
    skill = catalog.skills.get(name)
    if skill is not None:
        return skill
    broken = [p for p in catalog.problems if p["skill"] == name]
    if broken:
        raise skills_store.SkillError(f"skill '{name}' is malformed and was skipped: {broken[0]['reason']}")
    import difflib

    close = difflib.get_close_matches(name, list(catalog.skills), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else " skills_list shows them all."
    raise skills_store.SkillError(f"no skill named '{name}'.{hint}")


def skill_view(args: dict[str, Any], ctx: ToolContext) -> str:
    name = (args.get("name") or "").strip()
    if not name:
        return tool_error("name must be a skill name from skills_list")
    catalog = skills_store.load_catalog()
    try:
        skill = find_skill(catalog, name)
        file_path = (args.get("file_path") or "").strip()
        if file_path:
            return tool_result(name=skill.name, file_path=file_path,
                               content=skills_store.read_linked_file(skill, file_path))
    except skills_store.SkillError as exc:
        return tool_error(str(exc))
    fields: dict[str, Any] = {
        "name": skill.name, "description": skill.description, "category": skill.category,
        "tags": skill.tags, "related_skills": skill.related_skills, "version": skill.version,
        "source": skill.source, "path": str(skill.path), "content": skill.body,
    }
    linked = skill.linked_files()
    if linked:
        fields["linked_files"] = linked
        fields["hint"] = "skill_view with file_path=<one of linked_files> opens a file"
    return tool_result(**fields)


def _check() -> str | None:
    if not skills_store.BUNDLED_DIR.is_dir() and not skills_store.user_dir().is_dir():
        return f"no skills installed (neither {skills_store.BUNDLED_DIR} nor {skills_store.user_dir()} exists)"
    return None


register(Tool(
    name="skills_categories", toolset="skills",
    description="List skill categories. Skills are how-to documents for specific jobs; check them before unfamiliar work.",
    parameters={"type": "object", "properties": {}},
    handler=skills_categories, check=_check,
))

register(Tool(
    name="skills_list", toolset="skills",
    description="List skills (name, one-line description, tags), optionally in one category.",
    parameters={"type": "object", "properties": {
        "category": {"type": "string", "description": "Only this category"},
    }},
    handler=skills_list, check=_check,
))

register(Tool(
    name="skill_view", toolset="skills",
    description="Open a skill's SKILL.md, or one of its linked files (references/, templates/, scripts/).",
    parameters={"type": "object", "properties": {
        "name": {"type": "string", "description": "Skill name"},
        "file_path": {"type": "string", "description": "A linked file, relative to the skill (e.g. references/api.md)"},
    }, "required": ["name"]},
    handler=skill_view, check=_check,
))
