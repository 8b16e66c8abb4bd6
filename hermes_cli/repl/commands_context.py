"""REPL commands for project context (issue 18): /context shows the context files, /init writes AGENTS.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl

INIT_PROMPT = """\
Write a starter AGENTS.md for this project at {path}.

First explore the project with your tools: list its files, read the README, the build and package files \
(pyproject.toml, package.json, Cargo.toml, go.mod, Makefile, ...) and a few source and test files. Then \
create {path} with the write_file tool. Keep it short (under 60 lines) and written for an AI coding agent \
new to the repository:
- what the project is, in one or two lines;
- how to install, build, run, lint and test it (the exact commands);
- the layout: the main directories and what lives where;
- conventions to follow (style, naming, tests, commits).
Only state what you checked in the files; leave out anything you would have to guess.{existing}"""

INIT_EXISTING = (" An AGENTS.md exists already and the user asked to redo it: read it first and keep what is "
                 "still true.")


def _size(n: int) -> str:
    return f"{n:,} B" if n < 10_000 else f"{n / 1024:.1f} KiB"


class ContextCommands:
    """/context and /init; mixed into `Commands` (hermes_cli/repl/commands.py)."""

    repl: Repl

    def cmd_context(self, arg: str) -> None:
        """Show the project context files (AGENTS.md ...) in the system prompt: path, size, what was cut"""
        renderer, agent = self.repl.renderer, self.repl.agent
        context = agent.project_context
        if not context.enabled:
            renderer.info("context files are off (context_files.enabled: false)")
            return
        where = (f"repository root {context.root}" if context.root is not None
                 else "no repository (no .git above): only the working directory is searched")
        if not context.files:
            home = self.repl.settings.home
            renderer.info(f"no context files loaded. Searched {home} (global), then {where} down to "
                          f"{context.cwd}.\nAdd an AGENTS.md (or HERMES.md), or run /init to have the model "
                          "write one.")
            return
        rows = []
        for f in context.files:
            status = (f"not read: {f.problem}" if f.problem else "cut" if f.sent and f.cut
                      else "left out (cap)" if f.cut else "sent")
            rows.append([str(f.path), f.scope, _size(f.size), _size(f.sent), status])
        renderer.table("Context files (in prompt order; the last wins)", ["file", "scope", "size", "sent", ""], rows)
        lines = [f"{_size(context.sent_bytes)} sent of the {_size(context.max_bytes)} cap "
                 f"(context_files.max_bytes) · {where}",
                 f"system prompt now: {_size(len(agent.system_prompt.encode('utf-8')))}"]
        if note := context.cut_note():
            lines.append(note)
        renderer.info("\n".join(lines))

    def cmd_init(self, arg: str) -> None:
        """Have the model read the project and write a starter AGENTS.md: /init [force]"""
        renderer = self.repl.renderer
        target = self.repl.agent.project_context.cwd / "AGENTS.md"
        existed = target.exists()
        if existed and arg.strip().lower() not in ("force", "--force", "overwrite"):
            renderer.warn(f"{target} exists already ({_size(target.stat().st_size)}); /init force asks the model "
                          "to rewrite it (it reads the current one first)")
            return
        if arg.strip() and arg.strip().lower() not in ("force", "--force", "overwrite"):
            renderer.warn("usage: /init (write AGENTS.md here) or /init force (rewrite an existing one)")
            return
        before = _stamp(target)
        renderer.info(f"asking the model to read the project and write {target}")
        self.repl.run_turn(INIT_PROMPT.format(path=target, existing=INIT_EXISTING if existed else ""))
        if _stamp(target) == before or not target.is_file():
            renderer.warn(f"the model did not write {target}")
            return
        self.repl.rebuild_system_prompt()  # the new file is in the system prompt from the next message
        renderer.info(f"wrote {target} ({_size(target.stat().st_size)}); in the system prompt from the next "
                      "message (/context shows it)")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
