"""Tab completion: slash commands, then their arguments (models, personalities, toolsets, sessions);
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


class SlashCompleter(Completer):
    def __init__(self, repl: Repl) -> None:
        self.repl = repl
        self.arguments: dict[str, Callable[[], Iterable[str]]] = {
            "model": repl.available_models,
            "personality": repl.personality_choices,
            "toolsets": repl.toolset_choices,
            "resume": repl.session_choices,
            "export": lambda: EXPORT_FORMATS,
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
        for option in options:
            if option.startswith(current) and option != current:
                yield Completion(option, start_position=-len(current))
