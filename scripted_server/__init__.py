"""A scripted OpenAI-compatible LLM server for tests and benchmarks."""

from .replies import CHUNK_CHARS, TOKEN_CHARS, Reply, ToolCall, completion_text, default_token_ids
from .server import RecordedRequest, ScriptedLLM

__all__ = [
    "CHUNK_CHARS",
    "TOKEN_CHARS",
    "RecordedRequest",
    "Reply",
    "ScriptedLLM",
    "ToolCall",
    "completion_text",
    "default_token_ids",
]
