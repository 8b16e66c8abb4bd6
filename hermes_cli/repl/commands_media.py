"""Slash commands for pictures: /image."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl


def split_paths(arg: str) -> list[str]:
    """One path typed as it is (spaces and all), else several, quoted or backslash-escaped."""
    import shlex

    from agent.images import local_path

    if Path(local_path(arg)).expanduser().exists():
        return [arg]
    try:
        return shlex.split(arg)
    except ValueError:
        return [arg]


def complete_image_path(arg: str) -> Iterable[Any]:
    """Tab after `/image `: directories and picture files (prompt_toolkit's path completion)."""
    import os

    from prompt_toolkit.completion import CompleteEvent, PathCompleter
    from prompt_toolkit.document import Document

    from agent.images import EXTENSIONS

    def wanted(name: str) -> bool:
        return os.path.isdir(name) or name.lower().endswith(EXTENSIONS)

    completer = PathCompleter(expanduser=True, file_filter=wanted)
    yield from completer.get_completions(Document(arg, len(arg)), CompleteEvent(completion_requested=True))


class MediaCommands:
    repl: Repl

    def cmd_image(self, arg: str) -> None:
        """Attach a picture to your next message: /image PATH (no PATH: list; /image clear)"""
        from agent.images import local_path
        from hermes_cli.repl.attachments import ImageError, describe

        attachments, renderer = self.repl.attachments, self.repl.renderer
        if arg == "clear":
            renderer.info(f"dropped {attachments.clear()} attached image(s)")
            return
        if arg:
            paths = split_paths(arg)
            try:
                for path in paths:
                    attachments.add(local_path(path))
            except ImageError as exc:
                renderer.warn(str(exc))
                if not attachments.pending:
                    return
        if not attachments.pending:
            renderer.info("no images attached; /image PATH attaches one to your next message "
                          "(or paste or drag an image file into the prompt)")
            return
        names = ", ".join(describe(image) for image in attachments.pending)
        renderer.info(f"attached to your next message: {names}")
