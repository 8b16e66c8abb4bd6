"""The Firecrawl path: firecrawl-py talks to a local stand-in for the Firecrawl HTTP API (FIRECRAWL_API_URL)."""

from __future__ import annotations

import json

import pytest

import model_tools
from tests.web.web_site import Route, Site, serve


def _json(payload: dict, status: int = 200) -> Route:
    return Route(json.dumps(payload), status=status, content_type="application/json")


def _scrape(path: str, body: bytes, headers: dict[str, str]) -> Route:
    url = json.loads(body)["url"]
    if url.endswith("/missing"):
        return _json({"success": True, "data": {"markdown": "Not found", "metadata": {"sourceURL": url, "statusCode": 404}}})
    markdown = "# From Firecrawl\n\n" + "\n".join(f"line {i} " + "text " * 20 for i in range(300))
    return _json({"success": True, "data": {"markdown": markdown, "metadata": {
        "title": "Firecrawl page", "sourceURL": url, "statusCode": 200}}})


@pytest.fixture
def firecrawl(monkeypatch: pytest.MonkeyPatch):
    with serve() as api:
        api.routes.update({
            "/v2/scrape": _scrape,
            "/v2/search": _json({"success": True, "data": {"web": [
                {"url": "https://docs.example/a", "title": "A doc", "description": "About A"},
                {"url": "https://docs.example/b", "title": "B doc", "description": "About B"},
            ]}}),
            "/v2/crawl": _json({"success": True, "id": "job-1", "url": "/v2/crawl/job-1"}),
            "/v2/crawl/job-1": _json({"success": True, "status": "completed", "completed": 2, "total": 2, "data": [
                {"markdown": "# One", "metadata": {"title": "One", "sourceURL": "https://site.example/1"}},
                {"markdown": "# Two", "metadata": {"title": "Two", "sourceURL": "https://site.example/2"}},
            ]}),
        })
        monkeypatch.setenv("FIRECRAWL_API_KEY", "fc-test-key")
        monkeypatch.setenv("FIRECRAWL_API_URL", api.base)
        yield api


def _bodies(api: Site, path: str) -> list[tuple[str, str]]:
    return [req for req in api.requests if req[1] == path]


def test_search_goes_to_firecrawl_with_the_key(firecrawl, call):
    assert "web_search" in [d["function"]["name"] for d in model_tools.get_tool_definitions(["web"])]
    result = call("web_search", query="hermes agent", limit=2)
    assert result["results"] == [
        {"url": "https://docs.example/a", "title": "A doc", "description": "About A"},
        {"url": "https://docs.example/b", "title": "B doc", "description": "About B"},
    ]
    assert firecrawl.headers[-1]["Authorization"] == "Bearer fc-test-key"


def test_extract_uses_firecrawl_and_pages_long_markdown(firecrawl, call, monkeypatch):
    monkeypatch.setenv("WEB_PAGE_CHARS", "5000")
    result = call("web_extract", urls=["https://site.example/article"])
    page = result["results"][0]
    assert page["title"] == "Firecrawl page"
    assert page["url"] == "https://site.example/article"
    assert page["content"].startswith("# From Firecrawl")
    assert page["page"] == 1 and page["pages"] > 1 and "page=2" in page["note"]
    assert _bodies(firecrawl, "/v2/scrape")


def test_extract_reports_the_status_firecrawl_saw(firecrawl, call):
    result = call("web_extract", urls=["https://site.example/missing"])
    assert result["error"] == "HTTP 404 for https://site.example/missing (reported by Firecrawl)"


def test_crawl_through_firecrawl(firecrawl, call):
    result = call("web_crawl", url="https://site.example/", limit=5)
    assert [(p["url"], p["title"], p["content"]) for p in result["pages"]] == [
        ("https://site.example/1", "One", "# One"), ("https://site.example/2", "Two", "# Two")]


def test_firecrawl_errors_are_one_line(firecrawl, call):
    firecrawl.routes["/v2/search"] = _json({"success": False, "error": "Unauthorized: invalid token"}, status=401)
    result = call("web_search", query="x")
    assert result["error"].startswith("Firecrawl search failed: ")
    assert "invalid token" in result["error"] and "\n" not in result["error"]
    assert "fc-test-key" not in result["error"]


def test_an_unreachable_firecrawl_server(call, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FIRECRAWL_API_KEY", "fc-test-key")
    monkeypatch.setenv("FIRECRAWL_API_URL", f"http://127.0.0.1:{port}")
    result = call("web_extract", urls=["https://site.example/"])
    assert result["error"] == f"could not reach Firecrawl at http://127.0.0.1:{port} for scrape of https://site.example/"
