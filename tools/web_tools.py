"""The `web` toolset: web_search, web_extract and web_crawl.

With FIRECRAWL_API_KEY everything goes through Firecrawl (FIRECRAWL_API_URL for a self-hosted one).
Without it, extract and crawl fetch pages here (tools/web_fetch.py) and web_search is hidden: there
is no search provider to ask.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import OrderedDict
from typing import Any

from tools import web_fetch, web_firecrawl
from tools.registry import Tool, ToolContext, register, tool_error, tool_result
from tools.web_fetch import FetchError

MAX_URLS = 5
MAX_CRAWL_PAGES = 50
CRAWL_BUDGET_CHARS = 60_000


def page_chars() -> int:
    from tools import tool_settings

    return tool_settings.web().page_chars


def _int(raw: Any, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except (TypeError, ValueError):
        value = default
    return min(max(value, low), high)


# -- web_search ------------------------------------------------------------------------------
def _search_check() -> str | None:
    if web_firecrawl.api_key() is None:
        return "needs a search provider: set FIRECRAWL_API_KEY (and FIRECRAWL_API_URL for a self-hosted Firecrawl)"
    return None


def web_search(args: dict[str, Any], ctx: ToolContext) -> str:
    reason = _search_check()
    if reason:
        return tool_error(f"web_search is unavailable: it {reason}")
    query = args.get("query")
    if not isinstance(query, str) or not query.strip():
        return tool_error("query must be a non-empty string")
    try:
        results = web_firecrawl.search(query.strip(), _int(args.get("limit"), 5, 1, 20))
    except FetchError as exc:
        return tool_error(str(exc))
    return tool_result(query=query, results=results,
                       note=None if results else "no results; try other words")


# -- web_extract -----------------------------------------------------------------------------
# Pages fetched recently, so reading page 2, 3 … of a long page does not fetch it (or spend Firecrawl
# credits) again. Only page > 1 reads from here: asking for page 1 always gets a fresh copy.
_recent: OrderedDict[str, tuple[float, web_fetch.Page]] = OrderedDict()
RECENT_SECONDS, RECENT_MAX = 600.0, 16


_recent_lock = threading.Lock()  # batch runs call tools from many threads


def _fetch(url: str, page: int) -> web_fetch.Page:
    with _recent_lock:
        cached = _recent.get(url)
    if page > 1 and cached and time.monotonic() - cached[0] < RECENT_SECONDS:
        return cached[1]
    fetched = web_firecrawl.scrape(url) if web_firecrawl.api_key() else web_fetch.fetch_page(url)
    with _recent_lock:
        _recent[url] = (time.monotonic(), fetched)
        _recent.move_to_end(url)
        while len(_recent) > RECENT_MAX:
            _recent.popitem(last=False)
    return fetched


def _extract_one(url: str, page: int) -> dict[str, Any]:
    url = web_fetch.check_url(url)
    fetched = _fetch(url, page)
    content, total = web_fetch.paginate(fetched.content, page, page_chars())
    shown = min(max(page, 1), total)
    entry: dict[str, Any] = {"url": fetched.url, "title": fetched.title, "content": content}
    if total > 1 or page > 1:
        entry["page"], entry["pages"] = shown, total
        entry["note"] = (f"page {shown} of {total} ({len(fetched.content):,} chars in all); "
                         + (f"call web_extract with page={shown + 1} for more" if shown < total else "last page"))
        if page > total:
            entry["note"] = f"there is no page {page}; this is the last one. " + entry["note"]
    if not fetched.content.strip():
        entry["note"] = "the page has no readable text (it may need JavaScript: try the browser tools)"
    return entry


def web_extract(args: dict[str, Any], ctx: ToolContext) -> str:
    urls = args.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        return tool_error("urls must be a non-empty list of http(s) URLs")
    if len(urls) > MAX_URLS:
        return tool_error(f"at most {MAX_URLS} URLs per call; got {len(urls)}")
    page = _int(args.get("page"), 1, 1, 10_000)
    results = []
    for url in urls:
        try:
            results.append(_extract_one(url, page))
        except FetchError as exc:
            if len(urls) == 1:
                return tool_error(str(exc), url=url)
            results.append({"url": url, "error": str(exc)})
    failed = sum("error" in r for r in results)
    return tool_result(results=results, error=f"all {failed} URLs failed" if failed == len(results) else None)


# -- web_crawl -------------------------------------------------------------------------------
def web_crawl(args: dict[str, Any], ctx: ToolContext) -> str:
    limit = _int(args.get("limit"), 10, 1, MAX_CRAWL_PAGES)
    depth = _int(args.get("max_depth"), 2, 0, 10)
    # The whole crawl result shares one budget, so a 50-page crawl cannot flood the context.
    per_page = max(1000, min(page_chars() // 4, CRAWL_BUDGET_CHARS // limit))
    try:
        url = web_fetch.check_url(args.get("url"))
        if not web_firecrawl.api_key():
            return tool_result(**web_fetch.crawl(url, limit, depth, per_page))
        pages = []
        for fetched in web_firecrawl.crawl(url, limit, depth):
            content, total = web_fetch.paginate(fetched.content, 1, per_page)
            entry = {"url": fetched.url, "title": fetched.title, "content": content}
            if total > 1:
                entry["note"] = f"cut at {len(content):,} of {len(fetched.content):,} chars; web_extract this URL for all"
            pages.append(entry)
        return tool_result(start_url=url, pages=pages)
    except FetchError as exc:
        return tool_error(str(exc), url=args.get("url"))


def _fetch_check() -> str | None:
    """Firecrawl does the fetching when configured; otherwise the local path needs its three packages."""
    if web_firecrawl.api_key():
        return None if importlib.util.find_spec("firecrawl") else "needs the firecrawl-py package"
    missing = [pkg for pkg, module in (("httpx", "httpx"), ("beautifulsoup4", "bs4"), ("markdownify", "markdownify"))
               if importlib.util.find_spec(module) is None]
    return f"needs {' and '.join(missing)} (pip install {' '.join(missing)})" if missing else None


register(Tool(
    name="web_search", toolset="web",
    description="Search the web. Returns titles, URLs and short descriptions; read a result with web_extract.",
    parameters={"type": "object", "properties": {
        "query": {"type": "string", "description": "What to search for"},
        "limit": {"type": "integer", "description": "Number of results (default 5, max 20)"},
    }, "required": ["query"]},
    handler=web_search, check=_search_check,
))

register(Tool(
    name="web_extract", toolset="web",
    description=("Read web pages as markdown. Long pages come in pages of ~20k chars; the note says how to get "
                 "the next one. HTML and text only."),
    parameters={"type": "object", "properties": {
        "urls": {"type": "array", "items": {"type": "string"}, "description": f"Up to {MAX_URLS} http(s) URLs"},
        "page": {"type": "integer", "description": "Page of long content to return (default 1)"},
    }, "required": ["urls"]},
    handler=web_extract, check=_fetch_check,
))

register(Tool(
    name="web_crawl", toolset="web",
    description=("Crawl one site from a URL (same host only, obeying robots.txt) and return each page's text, "
                 "cut short per page."),
    parameters={"type": "object", "properties": {
        "url": {"type": "string", "description": "Start URL"},
        "limit": {"type": "integer", "description": f"Max pages (default 10, max {MAX_CRAWL_PAGES})"},
        "max_depth": {"type": "integer", "description": "Max link depth from the start URL (default 2)"},
    }, "required": ["url"]},
    handler=web_crawl, check=_fetch_check,
))
