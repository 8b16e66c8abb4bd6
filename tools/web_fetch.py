"""Local web reading for the `web` toolset: fetch with httpx, HTML → markdown, robots.txt, same-site crawl.

Used when no FIRECRAWL_API_KEY is set. httpx, BeautifulSoup and markdownify are imported inside the
functions that need them so importing the tool modules stays cheap at start-up.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

USER_AGENT = "hermes-agent (+https://github.com/NousResearch/hermes-agent)"
ROBOTS_AGENT = "hermes-agent"
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "application/json",
              "text/xml", "application/xml", "text/csv")
# Links to these are never fetched by a crawl: they are not pages.
SKIP_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".pdf", ".zip", ".gz", ".tar",
                   ".mp3", ".mp4", ".webm", ".css", ".js", ".woff", ".woff2", ".exe", ".dmg", ".iso")


MAX_SKIPPED = 30  # a crawl lists at most this many skipped URLs (and counts the rest)


class FetchError(Exception):
    """A fetch that failed in a way the model should be told about in one line."""


def timeout_seconds() -> float:
    """web.timeout (WEB_TIMEOUT)."""
    from tools import tool_settings

    return tool_settings.web().timeout


def max_bytes() -> int:
    """web.max_bytes (WEB_MAX_BYTES)."""
    from tools import tool_settings

    return tool_settings.web().max_bytes


@dataclass
class Page:
    url: str  # after redirects
    title: str
    content: str  # markdown (HTML) or the text as served
    content_type: str
    links: list[str] = field(default_factory=list)


def check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise FetchError("url must be a non-empty string")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"not an http(s) URL: {url!r} (include the scheme, e.g. https://example.com/)")
    return url


def _client(timeout: float):
    import httpx

    return httpx.Client(follow_redirects=True, timeout=timeout, headers={"User-Agent": USER_AGENT},
                        max_redirects=10)


def fetch_raw(client: Any, url: str, limit: int) -> tuple[str, str, bytes]:
    """GET `url`; return (final URL, content type, body). Errors become FetchError with one clear line."""
    import httpx

    timeout = client.timeout.read or timeout_seconds()
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} for {response.url}")
            content_type = response.headers.get("content-type", "").strip().lower()
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"page too large: {int(declared):,} bytes at {response.url} "
                                 f"(limit {limit:,}; WEB_MAX_BYTES raises it)")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise FetchError(f"page too large: more than {limit:,} bytes at {response.url} "
                                     f"(limit {limit:,}; WEB_MAX_BYTES raises it)")
            return str(response.url), content_type, bytes(body)
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {timeout:g} s fetching {url}") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"too many redirects fetching {url}") from None
    except httpx.ConnectError as exc:
        raise FetchError(f"could not connect to {urlsplit(url).netloc}: {_short(exc)}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {url} failed: {type(exc).__name__}: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def html_to_page(url: str, body: bytes, content_type: str, charset: str | None = None) -> Page:
    """Markdown of the main content (<main>/<article> when present), the title, and the page's links."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(body, "html.parser", from_encoding=charset)  # None: a <meta> charset, else a guess
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    base = soup.find("base", href=True)
    base_url = urljoin(url, base["href"]) if base else url
    links = [urljoin(base_url, a["href"]) for a in soup.find_all("a", href=True)]
    for tag in soup(["script", "style", "noscript", "template", "svg", "iframe", "head"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article")
    if root is None:
        root = soup.body or soup
        # Navigation and footers repeat on every page of a site; without <main> they are the noise.
        for tag in root.find_all(["nav", "footer"]):
            tag.decompose()
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", strip=["form"]).convert_soup(root)
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip()
    return Page(url=url, title=title, content=markdown, content_type=content_type, links=links)


def to_page(url: str, content_type: str, body: bytes) -> Page:
    """`content_type` is the raw header value; a charset in it decodes text (HTML finds its own)."""
    content_type, _, params = content_type.partition(";")
    content_type = content_type.strip()
    declared = params.partition("charset=")[2].split(";")[0].strip(" \"'") or None
    charset = declared or "utf-8"
    if content_type in ("text/html", "application/xhtml+xml") or (not content_type and body.lstrip()[:1] == b"<"):
        return html_to_page(url, body, content_type or "text/html", declared)
    if content_type.startswith("text/") or content_type in TEXT_TYPES:
        try:
            text = body.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            text = body.decode("utf-8", errors="replace")
        return Page(url=url, title="", content=text, content_type=content_type)
    raise FetchError(f"not an HTML or text page: {url} is {content_type or 'of unknown type'}; "
                     "web_extract reads HTML and text only")


def fetch_page(url: str, timeout: float | None = None) -> Page:
    url = check_url(url)
    with _client(timeout or timeout_seconds()) as client:
        final_url, content_type, body = fetch_raw(client, url, max_bytes())
    return to_page(final_url, content_type, body)


def paginate(text: str, page: int, page_chars: int) -> tuple[str, int]:
    """Page `page` (1-based) of `text` and the page count; pages end at a line break when one is near."""
    bounds = [0]
    while len(text) - bounds[-1] > page_chars:
        start = bounds[-1]
        cut = text.rfind("\n", start + page_chars // 2, start + page_chars)
        bounds.append(cut + 1 if cut > 0 else start + page_chars)
    bounds.append(len(text))
    total = len(bounds) - 1
    page = min(max(page, 1), total)
    return text[bounds[page - 1]:bounds[page]], total


# -- crawling ---------------------------------------------------------------------------------
def _site(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _robots(client: Any, url: str):
    """The site's robots.txt rules; a missing or unreadable file allows everything (as crawlers do)."""
    from urllib.robotparser import RobotFileParser

    parts = urlsplit(url)
    parser = RobotFileParser(f"{parts.scheme}://{parts.netloc}/robots.txt")
    try:
        _, _, body = fetch_raw(client, parser.url, 500_000)
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
    except FetchError as exc:
        if str(exc).startswith("HTTP 401") or str(exc).startswith("HTTP 403"):
            parser.disallow_all = True  # the convention: a forbidden robots.txt means keep out
        else:
            parser.allow_all = True
    return parser


def crawl(start_url: str, limit: int, max_depth: int, page_chars: int) -> dict[str, Any]:
    """Breadth-first crawl of one site (same scheme, host and port), obeying robots.txt."""
    start_url = urldefrag(check_url(start_url))[0]
    site = _site(start_url)
    pages: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with _client(timeout_seconds()) as client:
        robots = _robots(client, start_url)
        if not robots.can_fetch(ROBOTS_AGENT, start_url):
            raise FetchError(f"robots.txt of {site[1]} disallows {start_url}; not crawled")
        queue: deque[tuple[str, int]] = deque([(start_url, 0)])
        seen = {start_url}
        while queue and len(pages) < limit:
            url, depth = queue.popleft()
            try:
                final_url, content_type, body = fetch_raw(client, url, max_bytes())
                if _site(final_url) != site:
                    skipped.append({"url": url, "reason": f"redirects off the site to {final_url}"})
                    continue
                page = to_page(final_url, content_type, body)
            except FetchError as exc:
                skipped.append({"url": url, "reason": str(exc)})
                continue
            content, total = paginate(page.content, 1, page_chars)
            entry: dict[str, Any] = {"url": page.url, "title": page.title, "content": content}
            if total > 1:
                entry["note"] = (f"cut at {len(content):,} of {len(page.content):,} chars; "
                                 "web_extract this URL to read all of it")
            pages.append(entry)
            if depth >= max_depth:
                continue
            for link in page.links:
                link = urldefrag(link)[0]
                if link in seen or _site(link) != site or urlsplit(link).path.lower().endswith(SKIP_EXTENSIONS):
                    continue
                seen.add(link)
                if not robots.can_fetch(ROBOTS_AGENT, link):
                    skipped.append({"url": link, "reason": "disallowed by robots.txt"})
                    continue
                queue.append((link, depth + 1))
    result: dict[str, Any] = {"start_url": start_url, "pages": pages, "skipped": skipped[:MAX_SKIPPED]}
    if len(skipped) > MAX_SKIPPED:
        result["skipped_more"] = len(skipped) - MAX_SKIPPED
    if queue:
        result["note"] = f"stopped at limit={limit} pages; {len(queue)} more found on the site"
    return result
