"""web_crawl without a provider key: breadth-first over one site, obeying robots.txt."""

from __future__ import annotations

from tests.web.web_site import Route


def _page(title: str, *links: str) -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1><ul>{anchors}</ul></main></body></html>"


def _small_site(site) -> None:
    site.routes.update({
        "/robots.txt": Route("User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
        "/": _page("Home", "/a", "/b#section", "/private/secret", "http://example.invalid/elsewhere", "/logo.png"),
        "/a": _page("Page A", "/c", "/"),
        "/b": _page("Page B", "/a"),
        "/c": _page("Page C", "/d"),
        "/d": _page("Page D"),
        "/private/secret": _page("Secret"),
    })


def test_crawl_stays_on_the_site_and_obeys_robots_txt(site, call):
    _small_site(site)
    result = call("web_crawl", url=site.url("/"), max_depth=2)
    titles = [page["title"] for page in result["pages"]]
    assert titles == ["Home", "Page A", "Page B", "Page C"]  # breadth first; /d is at depth 3
    assert result["pages"][1]["content"].startswith("# Page A")
    assert {"url": site.url("/private/secret"), "reason": "disallowed by robots.txt"} in result["skipped"]
    asked = [path for _, path in site.requests]
    assert "/private/secret" not in asked and "/logo.png" not in asked
    assert asked.count("/a") == 1  # each page fetched once, fragments ignored


def test_crawl_limit_and_depth(site, call):
    _small_site(site)
    limited = call("web_crawl", url=site.url("/"), limit=2)
    assert [p["title"] for p in limited["pages"]] == ["Home", "Page A"]
    assert limited["note"].startswith("stopped at limit=2 pages;")
    shallow = call("web_crawl", url=site.url("/"), max_depth=0)
    assert [p["title"] for p in shallow["pages"]] == ["Home"]


def test_crawl_refuses_a_start_page_robots_txt_forbids(site, call):
    _small_site(site)
    result = call("web_crawl", url=site.url("/private/secret"))
    assert result["error"] == f"robots.txt of 127.0.0.1:{site.base.rsplit(':', 1)[1]} disallows {site.url('/private/secret')}; not crawled"


def test_crawl_reports_broken_links_and_cuts_long_pages(site, call, monkeypatch):
    monkeypatch.setenv("WEB_PAGE_CHARS", "4000")  # a crawl keeps a quarter of this per page
    site.routes["/"] = _page("Home", "/broken", "/long")
    site.routes["/long"] = "<html><body>" + "<p>lorem ipsum dolor</p>" * 200 + "</body></html>"
    result = call("web_crawl", url=site.url("/"))
    assert {"url": site.url("/broken"), "reason": f"HTTP 404 Not Found for {site.url('/broken')}"} in result["skipped"]
    long_page = result["pages"][1]
    assert len(long_page["content"]) <= 1000
    assert "web_extract this URL" in long_page["note"]
