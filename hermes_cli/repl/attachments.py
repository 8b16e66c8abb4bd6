"""Pictures waiting for the next message: `/image PATH`, `--image` at start-up, and image paths
pasted or dragged into the prompt (agent/images.find_pasted_images)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.images import Image, ImageError, find_pasted_images, load_image


def size_text(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(size // 1024, 1)} KB"


def describe(image: Image) -> str:
    return f"{image.path.name} ({image.mime.removeprefix('image/')}, {size_text(len(image.data))})"


@dataclass
class Attachments:
    pending: list[Image] = field(default_factory=list)

    def add(self, path: str, cwd: Path | None = None) -> Image:
        """Attach one picture to the next message; ImageError says why it cannot be."""
        image = load_image(path, cwd or Path.cwd())
        self.pending.append(image)
        return image

    def clear(self) -> int:
        count, self.pending = len(self.pending), []
        return count

    def take(self, text: str, cwd: Path | None = None) -> tuple[str, list[Image]]:
        """The message text (pasted paths replaced by `[image: NAME]`) and every picture it carries:
        those attached before, then the pasted ones. ImageError for a pasted file that is no usable
        picture; what was attached stays attached then."""
        text, pasted = find_pasted_images(text, cwd or Path.cwd())
        images = [*self.pending, *(load_image(path) for path in pasted)]
        self.pending = []
        return text, images


def reattach_last(repl: Any) -> None:
    """/retry: the pictures of the last prompt go with it again."""
    from agent.history import last_exchange_start
    from agent.images import from_part, image_parts

    start = last_exchange_start(repl.agent.messages)
    if start is not None:
        parts = image_parts(repl.agent.messages[start].get("content"))
        images = [from_part(part, f"image{n}") for n, part in enumerate(parts, 1)]
        repl.attachments.pending[:0] = [image for image in images if image is not None]


def prepare(repl: Any, text: str) -> tuple[str, list[Image]] | None:
    """What the REPL sends for a typed line: its text and pictures, said on screen; None (and one
    line) when a pasted picture cannot be sent, so nothing goes out by halves."""
    try:
        text, images = repl.attachments.take(text)
    except ImageError as exc:
        repl.renderer.warn(f"{exc}; message not sent")
        return None
    if images:
        repl.renderer.info(f"sending {len(images)} image(s): {', '.join(describe(i) for i in images)}")
    return text, images


__all__ = ["Attachments", "ImageError", "describe", "prepare"]
