"""MCP results -> the JSON string a hermes tool returns (the model reads it as the tool message).

    text blocks           -> joined into "output"
    image / audio blocks  -> written to $HERMES_HOME/mcp_media/<sha256>.<ext>; "output" gets a line
                             "[image image/png, 1234 bytes: <path>]" and "images" lists them, so the model
                             can pass the path to other tools (read_file, a vision-capable skill, ...)
    embedded resources    -> text inlined under "[resource <uri>]"; binary saved like images
    resource links        -> "[resource link <uri>]" (readable with mcp_resources action=read)
    structuredContent     -> "output" as JSON when there is no text block (servers also send it as text)
    isError               -> {"error": <text>}: the model sees a failed call it can recover from

The mapping is duck-typed on the SDK's pydantic models, so this module never imports `mcp`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
from pathlib import Path
from typing import Any

from recording.paths import hermes_home

MAX_OUTPUT_CHARS = 50_000


def media_dir() -> Path:
    return hermes_home() / "mcp_media"


def save_media(data_b64: str, mime_type: str | None) -> tuple[Path | None, int]:
    """Decode and store base64 media by content hash; (path, size) or (None, 0) if it is not base64."""
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        return None, 0
    ext = mimetypes.guess_extension(mime_type or "") or ".bin"
    directory = media_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()[:16]}{ext}"
    if not path.exists():
        path.write_bytes(data)
    return path, len(data)


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    cut = len(text) - MAX_OUTPUT_CHARS
    return text[:MAX_OUTPUT_CHARS] + f"\n[... {cut:,} more characters cut]"


def _resource_contents(item: Any, parts: list[str], media: list[dict[str, Any]]) -> None:
    uri = str(getattr(item, "uri", ""))
    if getattr(item, "text", None) is not None:
        parts.append(f"[resource {uri}]\n{item.text}")
        return
    mime = getattr(item, "mime_type", None)
    path, size = save_media(getattr(item, "blob", "") or "", mime)
    if path is None:
        parts.append(f"[resource {uri}: binary content that is not valid base64]")
        return
    media.append({"type": "resource", "uri": uri, "mime_type": mime, "bytes": size, "path": str(path)})
    parts.append(f"[resource {uri} {mime or 'binary'}, {size} bytes: {path}]")


def content_to_parts(blocks: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Text lines and saved media for a list of MCP content blocks."""
    parts: list[str] = []
    media: list[dict[str, Any]] = []
    for block in blocks or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            path, size = save_media(block.data, block.mime_type)
            if path is None:
                parts.append(f"[{kind} {block.mime_type}: data that is not valid base64]")
                continue
            media.append({"type": kind, "mime_type": block.mime_type, "bytes": size, "path": str(path)})
            parts.append(f"[{kind} {block.mime_type}, {size} bytes: {path}]")
        elif kind == "resource":
            _resource_contents(block.resource, parts, media)
        elif kind == "resource_link":
            parts.append(f"[resource link {block.uri}" + (f" ({block.name})" if getattr(block, "name", None) else "")
                         + "]: read it with mcp_resources action=read")
        else:
            parts.append(f"[{kind or 'unknown'} content not shown]")
    return parts, media


def tool_result_json(result: Any) -> str:
    """A CallToolResult as hermes' tool-result JSON."""
    parts, media = content_to_parts(getattr(result, "content", []))
    text = "\n".join(parts)
    structured = getattr(result, "structured_content", None)
    if getattr(result, "is_error", False):
        return json.dumps({"error": _clip(text) or "the MCP tool reported an error without a message"},
                          ensure_ascii=False)
    payload: dict[str, Any] = {"output": _clip(text) if text else
                               (json.dumps(structured, ensure_ascii=False) if structured is not None else "")}
    if media:
        payload["images" if all(m["type"] == "image" for m in media) else "media"] = media
    return json.dumps(payload, ensure_ascii=False)


def resource_result_json(uri: str, result: Any) -> str:
    """A ReadResourceResult as tool-result JSON."""
    parts: list[str] = []
    media: list[dict[str, Any]] = []
    for item in getattr(result, "contents", []):
        if getattr(item, "text", None) is not None:
            parts.append(item.text)
        else:
            _resource_contents(item, parts, media)
    payload: dict[str, Any] = {"uri": uri, "content": _clip("\n".join(parts))}
    if media:
        payload["media"] = media
    return json.dumps(payload, ensure_ascii=False)


def prompt_text(result: Any) -> str:
    """A GetPromptResult as one user message: its messages' text, in order."""
    chunks = []
    for message in getattr(result, "messages", []):
        parts, _ = content_to_parts([message.content])
        text = "\n".join(parts)
        chunks.append(text if message.role == "user" else f"[{message.role}]\n{text}")
    return "\n\n".join(chunks)
