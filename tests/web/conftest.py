"""Web tool tests: real HTTP on 127.0.0.1 (a site, and a stand-in for the Firecrawl API); no internet."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import model_tools
from tests.web.web_site import Site, serve


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as running:
        yield running


@pytest.fixture(autouse=True)
def web_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIRECRAWL_API_KEY", "FIRECRAWL_API_URL", "WEB_TIMEOUT", "WEB_MAX_BYTES", "WEB_PAGE_CHARS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def call() -> Callable[..., dict[str, Any]]:
    """call(tool, **args) -> the JSON the model would get back."""
    def run(name: str, **args: Any) -> dict[str, Any]:
        return json.loads(model_tools.handle_function_call(name, args, task_id="web-test"))
    return run
