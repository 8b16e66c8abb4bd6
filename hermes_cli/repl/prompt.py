"""The input line: persistent history, Tab completion, Alt-Enter newlines, Ctrl-C handling."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import HTML
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings

from hermes_cli.repl.completer import SlashCompleter

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl

PROMPT = HTML("<ansicyan><b>❯ </b></ansicyan>")
CONTINUATION = HTML("<ansicyan>… </ansicyan>")


def _typing_a_command() -> bool:
    """While a command word is being typed: not once it is a whole command (the menu, and the
    room kept for it under the prompt, go away), nor in its arguments (those complete on Tab)."""
    from prompt_toolkit.application import get_app

    from hermes_cli.repl.completer import WHOLE_COMMANDS

    text = get_app().current_buffer.text
    return text.startswith("/") and not any(c.isspace() for c in text) and text[1:].lower() not in WHOLE_COMMANDS


def _bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("escape", "enter")  # Alt-Enter arrives as Esc, Enter
    def _(event) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    def _(event) -> None:
        buffer = event.current_buffer
        if buffer.text:
            buffer.reset()  # first Ctrl-C clears what was typed
        else:
            event.app.exit(exception=KeyboardInterrupt())

    return kb


def _history(path: Path):
    from recording.private import open_private, private_dir

    try:  # what was typed can hold secrets: private, as the session logs
        private_dir(path.parent)
        os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
        return FileHistory(str(path))
    except OSError:  # a read-only home still gets a working prompt
        return InMemoryHistory()


def make_prompt_session(repl: Repl, history_path: Path) -> PromptSession[str]:
    def toolbar() -> HTML:
        agent = repl.agent
        tokens = int(agent.usage.get("total_tokens", 0))
        from tools.gate import ASK, YOLO, mode_of

        mode = mode_of(agent.tool_context)  # the approval mode; the default (ask) is not shown
        shown = "" if mode == ASK else f" · <ansired>{mode}</ansired>" if mode == YOLO else f" · {mode}"
        return HTML(f" {agent.model or '?'} · {tokens:,} tokens · /help{shown}")

    return PromptSession(
        PROMPT,
        history=_history(history_path),
        completer=SlashCompleter(repl),
        # typing `/` opens the command menu (with each command's help); plain messages never complete
        complete_while_typing=Condition(_typing_a_command),
        prompt_continuation=CONTINUATION,  # marks the lines after an Alt-Enter newline
        key_bindings=_bindings(),
        bottom_toolbar=toolbar,
        enable_history_search=False,
        mouse_support=False,
    )
