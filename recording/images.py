"""Pictures in the session log: stored once as files named by their sha256, referenced from events.

The event log would otherwise carry megabytes of base64 per prompt (and again on every resume). An
image part `{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}` is logged as
`{"type": "image_url", "image_url": {"file": "session_<id>.images/<sha256>.png", "mime": "image/png"}}`
(the path is relative to the log's directory; files are 0600), and `restore` turns it back into the
same data URL, byte for byte, for resume and exports. A part whose URL is not a data URL (https) is
logged as it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Any

from recording.private import write_private_bytes

EXT_OF = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
# What `externalize` writes, and all `restore` reads: a picture file beside the log, nothing else.
_REF = re.compile(r"session_[\w.-]+\.images/[0-9a-f]{64}\.(?:png|jpg|gif|webp|bin)")


def images_dir(event_log: Path) -> Path:
    """`session_<id>.images` beside `session_<id>.jsonl`."""
    return event_log.with_suffix(".images")


def _split_data_url(url: Any) -> tuple[str, bytes] | None:
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        return None
    mime, _, payload = url[5:].partition(";base64,")
    try:
        return mime, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _store(directory: Path, mime: str, data: bytes) -> Path:
    import hashlib  # only when a picture is recorded: hashlib costs ~2 ms at start-up

    digest = hashlib.sha256(data).hexdigest()
    path = directory / f"{digest}.{EXT_OF.get(mime, 'bin')}"
    if not path.exists():  # content-addressed: the same picture twice is one file
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_bytes(path, data)
    return path


def externalize(message: dict[str, Any], event_log: Path) -> dict[str, Any]:
    """`message` with each data-URL image part written to a file and replaced by a reference.
    OSError when a file cannot be written (the recorder then stops, as for any failed write)."""
    content = message.get("content")
    if not isinstance(content, list):
        return message
    directory = images_dir(event_log)
    parts: list[Any] = []
    changed = False
    for part in content:
        image_url = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
        split = _split_data_url(image_url.get("url")) if isinstance(image_url, dict) else None
        if split is None:
            parts.append(part)
            continue
        mime, data = split
        path = _store(directory, mime, data)
        ref = {k: v for k, v in image_url.items() if k != "url"}  # keeps `detail` if one was given
        parts.append({**part, "image_url": {**ref, "file": f"{directory.name}/{path.name}", "mime": mime}})
        changed = True
    return {**message, "content": parts} if changed else message


def restore(message: dict[str, Any], log_directory: Path) -> dict[str, Any]:
    """The message as it was sent: file references become their data URLs again. A missing file
    becomes a text part saying so (the rest of the session still loads)."""
    content = message.get("content")
    if not isinstance(content, list):
        return message
    parts: list[Any] = []
    changed = False
    for part in content:
        image_url = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
        if not isinstance(image_url, dict) or "file" not in image_url:
            parts.append(part)
            continue
        changed = True
        ref = {k: v for k, v in image_url.items() if k not in ("file", "mime")}
        try:
            if not _REF.fullmatch(str(image_url["file"])):  # an edited log must not send other files
                raise OSError("not a recorded picture")
            data = (log_directory / str(image_url["file"])).read_bytes()
        except OSError:
            parts.append({"type": "text", "text": f"[image missing: {image_url['file']}]"})
            continue
        url = f"data:{image_url.get('mime') or 'image/png'};base64,{base64.b64encode(data).decode('ascii')}"
        parts.append({**part, "image_url": {"url": url, **ref}})
    return {**message, "content": parts} if changed else message
