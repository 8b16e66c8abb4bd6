"""The skills toolset over the bundled skills/ and a user's $HERMES_HOME/skills: what the model gets back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import model_tools
from tools.skills_store import BUNDLED_DIR


def call(tool: str, /, **args: Any) -> dict[str, Any]:
    return json.loads(model_tools.handle_function_call(tool, args, task_id="skills-test"))


def write_skill(root: Path, rel: str, front_matter: str, body: str = "# Body\n") -> Path:
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\n{front_matter}\n---\n{body}", encoding="utf-8")
    return folder


@pytest.fixture
def user_skills(hermetic_env: Path) -> Path:
    return hermetic_env / "skills"


def test_bundled_skills_all_load_with_categories():
    listing = call("skills_list")
    assert "skipped" not in listing, listing.get("skipped")
    names = {s["name"] for s in listing["skills"]}
    assert {"exporting-training-data", "writing-a-skill", "terminal-backends", "batch-data-generation",
            "git-workflow", "debugging-python", "web-research"} <= names
    assert listing["count"] >= 6
    for skill in listing["skills"]:
        assert skill["description"] and skill["tags"], skill
    categories = {c["name"]: c for c in call("skills_categories")["categories"]}
    assert set(categories) == {"hermes", "research", "software-development"}
    assert categories["hermes"]["skills"] == 4
    assert categories["hermes"]["description"].startswith("Using, configuring and extending hermes")
    only_research = call("skills_list", category="research")["skills"]
    assert [s["name"] for s in only_research] == ["web-research"]
    assert call("skills_list", category="nope")["error"] == (
        "no skill category 'nope'. Categories: hermes, research, software-development")


def test_view_shows_the_skill_and_its_linked_files():
    skill = call("skill_view", name="writing-a-skill")
    assert skill["category"] == "hermes" and skill["source"] == "bundled"
    assert skill["version"] == "1.0.0" and "skills" in skill["tags"]
    assert skill["content"].startswith("# Writing a skill")
    assert skill["path"] == str(BUNDLED_DIR / "hermes" / "writing-a-skill")
    assert skill["linked_files"] == {"templates": ["templates/SKILL.md"]}
    template = call("skill_view", name="writing-a-skill", file_path="templates/SKILL.md")
    assert template["content"].startswith("---\nname: CHANGE-ME")
    scripts = call("skill_view", name="batch-data-generation")["linked_files"]
    assert scripts == {"scripts": ["scripts/to_prompts.py"]}


def test_cached_bytecode_is_not_listed_as_a_skill_file(user_skills):
    # set-up runs compileall, which leaves __pycache__ beside a skill's scripts
    folder = write_skill(user_skills, "mine/compiled", "name: compiled\ndescription: has a script")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "run.py").write_text("print('hi')\n", encoding="utf-8")
    import compileall

    assert compileall.compile_dir(folder / "scripts", quiet=1)
    assert list((folder / "scripts" / "__pycache__").iterdir())
    assert call("skill_view", name="compiled")["linked_files"] == {"scripts": ["scripts/run.py"]}


def test_paths_outside_the_skill_are_refused(user_skills):
    folder = write_skill(user_skills, "mine/sneaky", "name: sneaky\ndescription: tries to escape")
    (folder / "references").mkdir()
    (folder / "references" / "ok.md").write_text("fine", encoding="utf-8")
    (folder / "references" / "escape.md").symlink_to("/etc/passwd")
    for bad in ("../../../../etc/passwd", "references/escape.md", "references/../../other/SKILL.md"):
        result = call("skill_view", name="sneaky", file_path=bad)
        assert result["error"] == f"{bad} is outside the skill 'sneaky'; only its own files can be opened", bad
    absolute = call("skill_view", name="sneaky", file_path="/etc/passwd")
    assert absolute["error"].startswith("file_path must be relative to the skill")
    missing = call("skill_view", name="sneaky", file_path="references/nope.md")
    assert missing["error"].startswith("no file references/nope.md in skill 'sneaky'. Files: ")
    assert call("skill_view", name="sneaky", file_path="references/ok.md")["content"] == "fine"


def test_a_user_skill_overrides_a_bundled_one_by_name(user_skills):
    write_skill(user_skills, "my-stuff/git", "name: git-workflow\ndescription: Our team's git rules\ntags: [git]",
                "# Team git rules\nAlways rebase.\n")
    listing = {s["name"]: s for s in call("skills_list")["skills"]}
    assert listing["git-workflow"]["description"] == "Our team's git rules"
    assert listing["git-workflow"]["source"] == "user" and listing["git-workflow"]["category"] == "my-stuff"
    viewed = call("skill_view", name="git-workflow")
    assert viewed["content"] == "# Team git rules\nAlways rebase."
    assert viewed["source"] == "user"


def test_malformed_skills_are_reported_and_skipped(user_skills):
    write_skill(user_skills, "bad/yaml", "name: yaml-broken\ndescription: colon: inside: unquoted")
    write_skill(user_skills, "bad/nodesc", "name: no-description")
    write_skill(user_skills, "bad/badname", "name: Bad Name\ndescription: spaces")
    plain = user_skills / "bad" / "plain"
    plain.mkdir(parents=True)
    (plain / "SKILL.md").write_text("# Just markdown\n", encoding="utf-8")
    write_skill(user_skills, "good", "name: good-one\ndescription: works\ntags: a, b")

    listing = call("skills_list")
    reasons = {p["skill"]: p["reason"] for p in listing["skipped"]}
    assert reasons == {
        "yaml": "front matter is not valid YAML at line 3: mapping values are not allowed here",
        "nodesc": "front matter has no 'description'",
        "badname": "name 'Bad Name' must be lower-case letters, digits, '.', '_' or '-'",
        "plain": "no YAML front matter (SKILL.md must start with a '---' line)",
    }
    good = next(s for s in listing["skills"] if s["name"] == "good-one")
    assert good["category"] == "general" and good["tags"] == ["a", "b"]
    assert len(listing["skills"]) >= 8  # the bundled ones still load
    assert call("skill_view", name="yaml")["error"].startswith("skill 'yaml' is malformed and was skipped: ")


def test_unknown_skill_suggests_close_names():
    assert call("skill_view", name="git-workflw")["error"] == "no skill named 'git-workflw'. Did you mean: git-workflow?"
    assert call("skill_view", name=" ")["error"] == "name must be a skill name from skills_list"


def test_a_skill_written_during_a_session_is_visible_at_once(user_skills):
    assert "fresh" not in {s["name"] for s in call("skills_list")["skills"]}
    write_skill(user_skills, "fresh", "name: fresh\ndescription: just written")
    assert call("skill_view", name="fresh")["description"] == "just written"


def test_skills_tools_reach_the_model_in_the_skills_toolset():
    names = [d["function"]["name"] for d in model_tools.get_tool_definitions(["skills"])]
    assert names == ["skills_categories", "skills_list", "skill_view"]
    assert os.path.isdir(BUNDLED_DIR)
