"""The REPL's /skills command, and the bundled batch script run for real against the scripted server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from hermes_cli.repl.commands import Commands
from tests.conftest import HERMES, read_jsonl
from tools.skills_store import BUNDLED_DIR


class Capture:
    """Stands in for the REPL renderer: keeps what each method was asked to show."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, object]] = []

    def __getattr__(self, kind: str):
        return lambda *args: self.shown.append((kind, args))

    def of(self, kind: str) -> list:
        return [args for shown_kind, args in self.shown if shown_kind == kind]


def run_command(line: str) -> Capture:
    renderer = Capture()
    Commands(SimpleNamespace(renderer=renderer)).run(line)
    return renderer


def test_slash_skills_lists_and_shows(hermetic_env: Path):
    broken = hermetic_env / "skills" / "broken"
    broken.mkdir(parents=True)
    (broken / "SKILL.md").write_text("no front matter", encoding="utf-8")

    listing = run_command("/skills")
    (title, columns, rows), = listing.of("table")
    assert title == "Skills" and columns == ["name", "category", "description"]
    assert ["git-workflow", "software-development"] == rows[[r[0] for r in rows].index("git-workflow")][:2]
    assert any("skill broken skipped" in args[0] and "no YAML front matter" in args[0] for args in listing.of("warn"))
    assert "/skills NAME shows one" in listing.of("info")[0][0]

    shown = run_command("/skills debugging-python")
    assert shown.of("info")[0][0].startswith("debugging-python · software-development · bundled · ")
    assert shown.of("markdown")[0][0].startswith("# Debugging Python without an interactive debugger")

    unknown = run_command("/skills debuging-python")
    assert unknown.of("warn")[-1][0] == "no skill named 'debuging-python'. Did you mean: debugging-python?"
    assert "/skills" in [f"/{name}" for name in Commands.names()]


def test_prompt_file_builder_script(tmp_path: Path):
    script = BUNDLED_DIR / "hermes" / "batch-data-generation" / "scripts" / "to_prompts.py"
    source = tmp_path / "data.csv"
    source.write_text("id,question,answer\n1,What is 2+2?,4\n2,,none\n3,What is 2+2?,4\n4,Name a prime,7\n",
                      encoding="utf-8")
    out = tmp_path / "prompts.jsonl"
    run = subprocess.run([sys.executable, str(script), str(source), "--field", "question", "--keep", "id,answer",
                          "--toolsets", "terminal,file", "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "wrote 2 prompts" in run.stderr and "skipped 2 empty or duplicate" in run.stderr
    assert read_jsonl(out) == [
        {"prompt": "What is 2+2?", "id": "1", "answer": "4", "toolsets": ["terminal", "file"]},
        {"prompt": "Name a prime", "id": "4", "answer": "7", "toolsets": ["terminal", "file"]},
    ]
    text = tmp_path / "q.txt"
    text.write_text("first\n\nsecond\n", encoding="utf-8")
    subprocess.run([sys.executable, str(script), str(text), "-o", str(out)], check=True, timeout=60,
                   capture_output=True)
    assert read_jsonl(out) == [{"prompt": "first"}, {"prompt": "second"}]
    missing = subprocess.run([sys.executable, str(script), str(source), "--field", "q", "-o", str(out)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no column 'q'; columns: id, question, answer" in missing.stderr


def _help(*argv: str) -> str:
    return subprocess.run([sys.executable, str(HERMES), *argv, "--help"], capture_output=True, text=True,
                          timeout=60).stdout


def test_hermes_flags_named_in_bundled_skills_exist():
    """A wrong command in a skill is worse than none: every hermes flag the skills show must be real."""
    import re

    main_help, export_help, batch_help = _help(), _help("export"), _help("batch")
    script_help = subprocess.run([sys.executable, str(BUNDLED_DIR / "hermes" / "batch-data-generation" / "scripts"
                                                      / "to_prompts.py"), "--help"],
                                 capture_output=True, text=True, timeout=60).stdout
    checked = 0
    for skill_md in BUNDLED_DIR.rglob("SKILL.md"):
        text = skill_md.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            if "to_prompts.py" in line:
                pairs = [(line, script_help)]
            elif re.search(r"\bhermes export\b", line):
                pairs = [(line.split("hermes export", 1)[1], export_help)]
            elif re.search(r"\bhermes batch\b", line):
                pairs = [(line.split("hermes batch", 1)[1], batch_help)]
            elif re.search(r"(^|\s|`)(\./)?hermes -", line):
                pairs = [(line, main_help)]
            else:
                continue
            for part, help_text in pairs:
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", part):
                    assert flag in help_text, f"{skill_md.parent.name}: {flag} in {line.strip()!r}"
                    checked += 1
    assert checked >= 15
