"""Which OpenAI-compatible endpoint, key and model a run uses.

Order: flags, then OPENAI_BASE_URL / OPENAI_API_KEY, then config, then OPENROUTER_API_KEY with the
OpenRouter base URL. Model: flag, config `model.default`, LLM_MODEL; a local server with no model
named is asked for its model list at the first call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from agent.errors import ConfigError

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODELS = {OPENROUTER_BASE_URL: "anthropic/claude-sonnet-4", OPENAI_BASE_URL: "gpt-4.1-mini"}
PLACEHOLDER_KEY = "EMPTY"  # local servers (vLLM, llama.cpp, Ollama) accept any key

NO_ENDPOINT = (
    "no model endpoint configured: set OPENAI_BASE_URL (plus OPENAI_API_KEY if it needs one) "
    "or OPENROUTER_API_KEY, or pass --base-url/--api-key"
)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    model: str | None
    source: str  # where the base URL came from, for the banner and /config

    @property
    def host(self) -> str:
        return urlparse(self.base_url).netloc or self.base_url


def _check_url(url: str, source: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{source} is not an http(s) URL: {url!r} (expected e.g. http://127.0.0.1:8000/v1)")
    return url.rstrip("/")


def resolve_endpoint(
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    *,
    config_model: dict | None = None,
    environ: dict[str, str] | None = None,
) -> Endpoint:
    env = os.environ if environ is None else environ
    cfg = config_model or {}
    source = "--base-url"
    if not base_url:
        base_url, source = env.get("OPENAI_BASE_URL") or None, "OPENAI_BASE_URL"
    if not base_url:
        base_url, source = cfg.get("base_url") or None, "config model.base_url"
    key = api_key or env.get("OPENAI_API_KEY") or cfg.get("api_key") or None

    if not base_url:
        if key:
            base_url, source = OPENAI_BASE_URL, "OPENAI_API_KEY"
        elif env.get("OPENROUTER_API_KEY"):
            base_url = env.get("OPENROUTER_BASE_URL") or OPENROUTER_BASE_URL
            key, source = env["OPENROUTER_API_KEY"], "OPENROUTER_API_KEY"
        else:
            raise ConfigError(NO_ENDPOINT)
    base_url = _check_url(base_url, source)
    if not key:
        is_openrouter = "openrouter.ai" in base_url
        key = env.get("OPENROUTER_API_KEY") if is_openrouter else None
        key = key or PLACEHOLDER_KEY
    model = model or cfg.get("default") or env.get("LLM_MODEL") or DEFAULT_MODELS.get(base_url)
    return Endpoint(base_url=base_url, api_key=key, model=model, source=source)
