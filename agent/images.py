"""Images in prompts: load and check a picture, build OpenAI content parts, spot pasted paths.

A prompt with images is sent as a list of content parts, the text first, then one part per image:
    [{"type": "text", "text": "what is this?"},
     {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]
The type comes from the file's first bytes (magic), never from its name; a file over MAX_BYTES is
refused before anything is sent. Recording stores each picture once, by its sha256, beside the
session log (recording/images.py).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from recording.images import EXT_OF

MAX_BYTES = 20 * 1024 * 1024  # OpenAI's per-image limit; local servers choke well before it anyway
EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp")


class ImageError(ValueError):
    """A file that cannot be sent as an image; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Image:
    path: Path
    mime: str
    data: bytes

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def part(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.data_url}}


def sniff_mime(head: bytes) -> str | None:
    """The image type the first bytes show (PNG, JPEG, GIF, WebP), else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_image(path: str | Path, cwd: Path | None = None, max_bytes: int = MAX_BYTES) -> Image:
    """Read and check one picture; ImageError with one clear line when it cannot be sent."""
    file = Path(path).expanduser()
    if not file.is_absolute() and cwd is not None:
        file = cwd / file
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise ImageError(f"image {path}: {exc.strerror or exc}") from None
    if not file.is_file():
        raise ImageError(f"image {path}: not a file")
    if size > max_bytes:
        raise ImageError(f"image {path} is {size / 1048576:.1f} MB, over the {max_bytes / 1048576:.0f} MB limit; "
                         "send a smaller or scaled-down copy")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ImageError(f"image {path}: {exc.strerror or exc}") from None
    mime = sniff_mime(data[:16])
    if mime is None:
        raise ImageError(f"{path} is not a PNG, JPEG, GIF or WebP image (by its content); "
                         "convert it or attach another file")
    return Image(file, mime, data)


def user_content(text: str, images: list[Image] | None) -> str | list[dict[str, Any]]:
    """A user message's content: the text alone, or the text part followed by one part per image."""
    if not images:
        return text
    return [{"type": "text", "text": text}, *(image.part() for image in images)]


def from_part(part: dict[str, Any], name: str) -> Image | None:
    """The picture a data-URL image part carries (to send it again), else None."""
    url = (part.get("image_url") or {}).get("url")
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        return None
    mime, _, payload = url[5:].partition(";base64,")
    try:
        return Image(Path(f"{name}.{EXT_OF.get(mime, 'bin')}"), mime, base64.b64decode(payload))
    except ValueError:
        return None


def image_parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]


IMAGE_TOKENS = 1_000  # what a picture costs in context, about (OpenAI: 765 for a 1024² tile set); not its base64


def text_and_images(message: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """`message` without its image parts, and how many it had: for size estimates, where a data URL's
    characters say nothing about the tokens the picture takes."""
    parts = image_parts(message.get("content"))
    if not parts:
        return message, 0
    return {**message, "content": [p for p in message["content"] if p not in parts]}, len(parts)


def has_images(messages: list[dict[str, Any]]) -> bool:
    return any(image_parts(m.get("content")) for m in messages)


# -- paths pasted or dragged into the prompt ------------------------------------------------------
# A token is a quoted string, or a run of non-space characters where a backslash escapes the next one
# (terminals paste `/tmp/My\ Shot.png`). Only tokens that name an existing image file count, and only
# ones that look like paths (a slash, `~` or file://): a bare `logo.png` in a sentence stays text.
# Quotes count only around a whole token (what's ... it's is no quoted path).
_TOKEN_PATTERN = r"""(?<!\S)'([^']+)'(?!\S)|(?<!\S)"([^"]+)"(?!\S)|((?:\\.|[^\s\\'"])+)"""
_TRAILING = ".,;:!?)]}"  # `look at /tmp/a.png.` : the sentence's punctuation is no part of the path


@cache
def _token() -> re.Pattern[str]:
    return re.compile(_TOKEN_PATTERN)  # compiled at first use: nothing at start-up


def _unescape(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token)


def local_path(token: str) -> str:
    """A file:// URL as the path it names (percent-escapes decoded); anything else as it is."""
    return unquote(urlparse(token).path) if token.startswith("file://") else token


def _candidate(token: str) -> str | None:
    if token.startswith("file://"):
        return local_path(token)
    if "/" in token or token.startswith("~"):
        return token
    return None


def starts_with_path(text: str) -> bool:
    """The line begins with an existing file's path (dragged in): a message, not a /command."""
    match = _token().match(text.lstrip())
    if match is None:
        return False
    quoted = match.group(1) or match.group(2)
    token = quoted if quoted is not None else _unescape(match.group(3))
    return "/" in token.strip("/") and Path(local_path(token)).expanduser().is_file()


def find_pasted_images(text: str, cwd: Path | None = None) -> tuple[str, list[Path]]:
    """The prompt with each pasted image path replaced by `[image: NAME]`, and the paths found."""
    found: list[Path] = []
    out: list[str] = []
    last = 0
    for match in _token().finditer(text):
        quoted = match.group(1) or match.group(2)
        raw = match.group(3) or ""
        bare = raw.rstrip(_TRAILING) if raw and not raw.endswith("\\" + raw[-1]) else raw
        lead = len(bare) - len(bare.lstrip("([{<"))
        token = quoted if quoted is not None else _unescape(bare[lead:])
        candidate = _candidate(token)
        if candidate is None or not candidate.lower().endswith(EXTENSIONS):
            continue
        path = Path(candidate).expanduser()
        if not path.is_absolute() and cwd is not None:
            path = cwd / path
        if not path.is_file():
            continue
        found.append(path)
        out.append(text[last:match.start() + lead])
        out.append(f"[image: {path.name}]")
        last = match.end() - (len(raw) - len(bare))
    if not found:
        return text, []
    out.append(text[last:])
    return "".join(out), found


# -- a model that does not take images -------------------------------------------------------------
_REJECTS = r"image|vision|multi-?modal|mmproj|content.?type"


def rejection_line(exc: BaseException, messages: list[dict[str, Any]], model: str | None) -> str | None:
    """One line when the endpoint refused a request because of its images, else None."""
    from agent.retry import describe_error, status_code

    # 404: OpenRouter's "No endpoints found that support image input"; 500: older llama.cpp servers
    if status_code(exc) not in (400, 404, 415, 422, 500) or not has_images(messages):
        return None
    detail = describe_error(exc)
    if not re.search(_REJECTS, detail, re.IGNORECASE):
        return None
    return f"model {model} does not accept images: {detail}; drop the image or use a vision model"


def strip_images(message: dict[str, Any], note: str) -> dict[str, Any]:
    """`message` with its image parts replaced by one text note (text parts kept)."""
    content = message.get("content")
    if not image_parts(content):
        return message
    text = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    count = len(image_parts(content))
    return {**message, "content": f"{text}\n[{count} image(s) not sent: {note}]".lstrip("\n")}


def drop_rejected_images(agent: Any) -> None:
    """After a refusal: the history keeps every message, with text notes where the images were, so
    the next prompt works; the log records the edit (history_edit + the messages again)."""
    messages = agent.messages
    first = next((i for i, m in enumerate(messages) if image_parts(m.get("content"))), None)
    if first is None:
        return
    tail = [strip_images(m, f"model {agent.model} does not accept images") for m in messages[first:]]
    del messages[first:]
    agent.record_history_change("history_edit", action="images_rejected", removed_count=len(tail))
    for message in tail:
        agent._append(message)


def failure_line(agent: Any, exc: BaseException, attempts: int, sent: list[dict[str, Any]]) -> str:
    """The line for a model call that failed for good (agent/retry.failure_message); a call refused
    over its images says so, and the history's pictures then become notes (drop_rejected_images)."""
    from agent.retry import failure_message

    line = rejection_line(exc, sent, agent.model)
    if line is None:
        return failure_message(exc, attempts, agent.endpoint, agent.model)
    drop_rejected_images(agent)
    return line
