"""Tab completion: slash commands, then their arguments (models, personalities, toolsets, sessions, skills);
`@path` in a prompt."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document

from hermes_cli.repl.commands import ALIASES, Commands
from hermes_cli.repl.commands_media import complete_image_path

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl

EXPORT_FORMATS = ["sharegpt", "openai", "atif", "rollout"]
WHOLE_COMMANDS = frozenset([*Commands.names(), *ALIASES])  # typed in full: no menu while typing


class SlashCompleter(Completer):
    def __init__(self, repl: Repl) -> None:
        self.repl = repl
        self.arguments: dict[str, Callable[[], Iterable[str]]] = {
            "model": repl.available_models,
            "personality": repl.personality_choices,
            "toolsets": repl.toolset_choices,
            "resume": lambda: resume_choices(repl),
            "export": lambda: EXPORT_FORMATS,
            "skills": skill_choices,
        }

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") and "@" in text:  # `@path` in a prompt (issue 18)
            from agent.context_files import context_dir
            from hermes_cli.repl.mention_complete import mention_completions

            yield from mention_completions(text, context_dir(self.repl.settings))
            return
        if not text.startswith("/") or "\n" in text:
            return
        if " " not in text:
            word = text[1:].lower()
            if not complete_event.completion_requested and word in WHOLE_COMMANDS:
                return  # a whole command typed: the menu closes (Tab still lists what it starts)
            for name in Commands.names() + list(ALIASES):
                if name.startswith(word):
                    yield Completion(f"/{name}", start_position=-len(text), display_meta=Commands.help_text(
                        ALIASES.get(name, name)))
            from hermes_cli.repl.ext_commands import prompt_commands  # MCP prompts (issue 17)

            for name, description in prompt_commands():
                if name.lower().startswith(word):
                    yield Completion(f"/{name}", start_position=-len(text), display_meta=description)
            return
        command, _, arg = text[1:].partition(" ")
        if command == "image":  # picture files and directories (issue 18)
            yield from complete_image_path(arg)
            return
        choices = self.arguments.get(ALIASES.get(command, command))
        if choices is None:
            return
        current = arg.rsplit(",", 1)[-1] if command == "toolsets" else arg
        try:
            options = list(choices())
        except Exception:  # a completion source must never break typing
            return
        for option in options:  # a name, or (name, what it is) shown beside it in the menu
            name, meta = option if isinstance(option, tuple) else (option, "")
            if name.startswith(current) and name != current:
                yield Completion(name, start_position=-len(current), display_meta=meta)


def resume_choices(repl: Repl) -> list[tuple[str, str]]:
    """Session ids with date, mode, turns and first prompt: bare ids say nothing."""
    from hermes_cli.repl.commands_sessions import describe
    from recording.reader import all_sessions

    return [(s.session_id, describe(s)) for s in all_sessions(repl.log_dir)[:50]]


def skill_choices() -> list[tuple[str, str]]:
    from tools import skills_store

    return [(s.name, s.description) for s in sorted(skills_store.load_catalog().skills.values(), key=lambda s: s.name)]
