"""The Firecrawl path of the `web` toolset (FIRECRAWL_API_KEY; FIRECRAWL_API_URL for a self-hosted server).

firecrawl-py (v2 client, `firecrawl.Firecrawl`) is imported only when a call is made.
"""

from __future__ import annotations

from typing import Any

from tools.web_fetch import FetchError, Page, timeout_seconds


def api_key() -> str | None:
    """web.firecrawl_api_key (FIRECRAWL_API_KEY)."""
    from tools import tool_settings

    return (tool_settings.web().firecrawl_api_key or "").strip() or None


def api_url() -> str | None:
    from tools import tool_settings

    return tool_settings.web().firecrawl_api_url


def _client():
    from firecrawl import Firecrawl

    # One retry only: the SDK's default of three with backoff turns a dead server into a long hang.
    return Firecrawl(api_key=api_key(), api_url=api_url(), timeout=timeout_seconds() + 10, max_retries=1)


def _error(action: str, exc: Exception) -> FetchError:
    """One line for the model; the SDK's messages can carry the whole response body."""
    import requests

    if isinstance(exc, requests.Timeout):
        return FetchError(f"Firecrawl {action} timed out")
    if isinstance(exc, requests.ConnectionError):
        host = api_url() or "api.firecrawl.dev"
        return FetchError(f"could not reach Firecrawl at {host} for {action}")
    lines = str(exc).strip().splitlines()
    message = lines[0][:300] if lines else type(exc).__name__
    return FetchError(f"Firecrawl {action} failed: {message}")


def _metadata(doc: Any) -> dict[str, Any]:
    meta = getattr(doc, "metadata", None)
    if meta is None:
        return {}
    return meta.model_dump() if hasattr(meta, "model_dump") else dict(meta)


def _status_error(url: str, meta: dict[str, Any]) -> FetchError | None:
    status = meta.get("status_code")
    if isinstance(status, int) and status >= 400:
        return FetchError(f"HTTP {status} for {url} (reported by Firecrawl)")
    return None


def scrape(url: str) -> Page:
    try:
        doc = _client().scrape(url, formats=["markdown"], only_main_content=True,
                               timeout=int(timeout_seconds() * 1000))
    except Exception as exc:  # the SDK raises its own classes, requests' and ValueError
        raise _error(f"scrape of {url}", exc) from None
    meta = _metadata(doc)
    error = _status_error(url, meta)
    if error:
        raise error
    return Page(url=meta.get("source_url") or meta.get("url") or url, title=meta.get("title") or "",
                content=doc.markdown or "", content_type="text/markdown")


def crawl(url: str, limit: int, max_depth: int) -> list[Page]:
    try:
        job = _client().crawl(url, limit=limit, max_discovery_depth=max_depth, formats=["markdown"],
                              only_main_content=True, poll_interval=1, timeout=max(60, limit * 15))
    except Exception as exc:
        raise _error(f"crawl of {url}", exc) from None
    if job.status != "completed":
        raise FetchError(f"Firecrawl crawl of {url} ended with status {job.status!r}")
    pages = []
    for doc in job.data or []:
        meta = _metadata(doc)
        pages.append(Page(url=meta.get("source_url") or meta.get("url") or "", title=meta.get("title") or "",
                          content=doc.markdown or "", content_type="text/markdown"))
    return pages


def search(query: str, limit: int) -> list[dict[str, Any]]:
    try:
        data = _client().search(query, limit=limit)
    except Exception as exc:
        raise _error("search", exc) from None
    results = []
    for item in data.web or []:
        meta = _metadata(item)  # a Document when the search also scraped, else a SearchResultWeb
        results.append({
            "url": getattr(item, "url", None) or meta.get("source_url") or meta.get("url"),
            "title": getattr(item, "title", None) or meta.get("title") or "",
            "description": getattr(item, "description", None) or meta.get("description") or "",
        })
    return results
