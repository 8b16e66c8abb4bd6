"""Which OpenAI-compatible endpoint, key and model a run uses.

Order: flags, then OPENAI_BASE_URL / OPENAI_API_KEY, then config, then OPENROUTER_API_KEY with the
OpenRouter base URL. Model: flag, config `model.default`, LLM_MODEL; a local server with no model
named is asked for its model list at the first call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.settings import Settings

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
    source: str  # where the base URL came from ("env OPENAI_BASE_URL", "flag --base-url", "file:line")

    @property
    def host(self) -> str:
        return urlparse(self.base_url).netloc or self.base_url


def resolve_endpoint(settings: Settings) -> Endpoint:
    """The endpoint these settings name; ConfigError when there is none. Resolve it once per process."""
    model = settings.model
    base_url, source = model.base_url, settings.source("model.base_url")
    key = model.api_key
    if not base_url:
        if key:
            base_url, source = OPENAI_BASE_URL, f"implied by {settings.source('model.api_key')}"
        elif settings.openrouter_api_key:
            base_url = (settings.openrouter_base_url or OPENROUTER_BASE_URL).rstrip("/")
            key, source = settings.openrouter_api_key, "implied by env OPENROUTER_API_KEY"
        else:
            raise ConfigError(NO_ENDPOINT)
    if not key:
        key = settings.openrouter_api_key if "openrouter.ai" in base_url else None
        key = key or PLACEHOLDER_KEY
    name = model.default or DEFAULT_MODELS.get(base_url)
    return Endpoint(base_url=base_url, api_key=key, model=name, source=source)


def discover_model(client: Any, endpoint: Endpoint) -> str:
    """The first model the endpoint lists (no model given); LLMError saying what to do otherwise."""
    from agent import llm
    from agent.errors import LLMError
    from agent.retry import describe_error

    try:
        models = llm.list_models(client)
    except Exception as exc:
        raise LLMError(f"no model given and {endpoint.host} did not list its models "
                       f"({describe_error(exc)}): pass --model or set LLM_MODEL") from None
    if not models:
        raise LLMError(f"no model given and {endpoint.host} lists none: pass --model or set LLM_MODEL")
    return models[0]
