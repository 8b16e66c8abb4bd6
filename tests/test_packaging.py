"""What pyproject.toml declares is what the code imports: deptry checks it on every test run.

A fresh `pip install -e '.[dev]'` once lacked jinja2 because only a hand-installed package made the
suite pass; these tests fail on an import no dependency or extra provides.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SKIP = shutil.ignore_patterns(".git", "logs", "data", "build", "dist", "__pycache__", "*.egg-info", ".*cache")


def _deptry(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deptry", ".", "--no-ansi"], cwd=project, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=_SKIP)
    return project


def test_every_import_is_declared() -> None:
    result = _deptry(ROOT)
    assert result.returncode == 0, f"deptry found dependency problems:\n{result.stdout}{result.stderr}"


def test_an_undeclared_import_fails_the_check(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    (project / "tools" / "leftpad_tool.py").write_text("import leftpad_undeclared\n", encoding="utf-8")

    result = _deptry(project)

    assert result.returncode == 1
    assert "'leftpad_undeclared' imported but missing from the dependency definitions" in result.stdout


def test_jinja2_must_be_declared_for_the_export_code(tmp_path: Path) -> None:
    """The original bug: exports/chat_render.py imports jinja2, which only transformers pulled in."""
    project = _copy(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(re.sub(r',\s*"jinja2[^"]*"', "", text), encoding="utf-8")

    result = _deptry(project)

    assert result.returncode == 1
    assert re.search(r"exports/chat_render\.py:\d+:\d+: DEP00[13] 'jinja2' imported but", result.stdout)


def test_supported_pythons_are_declared_and_the_lowest_is_the_one_tested() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lowest = re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"])
    assert lowest, project["requires-python"]
    assert f"Programming Language :: Python :: {lowest[1]}.{lowest[2]}" in project["classifiers"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"python{lowest[1]}.{lowest[2]} -m venv" in ci


def test_ci_runs_the_readme_commands_exactly() -> None:
    block = (ROOT / "README.md").read_text(encoding="utf-8").split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()[:2]]
    assert commands == ["pip install -e '.[dev]' && pip install --no-deps trl==1.16.0 && python -m compileall -q .", "python -m pytest"]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert ci_lines.index(commands[0]) < ci_lines.index(commands[1])


def test_the_dynamic_version_attribute_exists() -> None:
    """setuptools reads the version attribute pyproject.toml names statically (an assignment in that
    module's source, not an import); a moved `__version__` broke every fresh install
    (`pip install -e .`: "cli has no attribute __version__")."""
    import ast
    import tomllib

    spec = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["dynamic"]
    module, _, attribute = spec["version"]["attr"].rpartition(".")
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    values = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets)
              and isinstance(node.value, ast.Constant)]
    assert values and re.fullmatch(r"\d+\.\d+\.\d+", values[0]), f"{path} assigns no literal {attribute}"
