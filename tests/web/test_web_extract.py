"""web_extract and web_search without a provider key: local fetch, markdown, paging and clear errors."""

from __future__ import annotations

import socket

import model_tools
from tests.conftest import run_hermes
from tests.web.web_site import Route

ARTICLE = """<!doctype html><html><head><title>Release notes</title>
<style>body { color: red }</style><script>var secret = "do-not-show";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<main><h1>Version 2.0</h1><p>The <b>new</b> parser is <a href="/parser">documented here</a>.</p>
<ul><li>faster start</li><li>fewer bugs</li></ul>
<pre><code>pip install thing==2.0</code></pre></main>
<footer>Copyright</footer></body></html>"""


def test_extract_turns_html_into_markdown_of_the_main_content(site, call):
    site.routes["/notes"] = ARTICLE
    result = call("web_extract", urls=[site.url("/notes")])
    assert result["error"] is None
    page = result["results"][0]
    assert page["title"] == "Release notes"
    assert page["url"] == site.url("/notes")
    content = page["content"]
    assert content.startswith("# Version 2.0")
    assert "The **new** parser is [documented here](/parser)." in content
    assert "- faster start\n- fewer bugs" in content
    assert "pip install thing==2.0" in content
    assert "do-not-show" not in content and "color: red" not in content
    assert "About" not in content  # navigation is left out when the page marks its <main>


def test_plain_text_is_returned_as_served_and_redirects_are_followed(site, call):
    site.routes["/robots-like.txt"] = _text("line one\nline two\n")
    site.routes["/old"] = lambda path, body, headers: _redirect("/robots-like.txt")
    page = call("web_extract", urls=[site.url("/old")])["results"][0]
    assert page["content"] == "line one\nline two\n"
    assert page["url"] == site.url("/robots-like.txt")


def test_declared_charsets_are_honoured(site, call):
    site.routes["/latin1.txt"] = Route("café crème".encode("latin-1"), content_type="text/plain; charset=ISO-8859-1")
    site.routes["/cp1252.html"] = Route("<p>naïve “quotes”</p>".encode("cp1252"), content_type="text/html; charset=windows-1252")
    assert call("web_extract", urls=[site.url("/latin1.txt")])["results"][0]["content"] == "café crème"
    assert call("web_extract", urls=[site.url("/cp1252.html")])["results"][0]["content"] == "naïve “quotes”"


def test_long_pages_are_paged_with_a_note_saying_how_to_continue(site, call, monkeypatch):
    monkeypatch.setenv("WEB_PAGE_CHARS", "2000")
    paragraphs = "".join(f"<p>Paragraph {i:03d} {'word ' * 30}</p>" for i in range(60))
    site.routes["/long"] = f"<html><body>{paragraphs}</body></html>"
    first = call("web_extract", urls=[site.url("/long")])["results"][0]
    pages = first["pages"]
    assert pages > 3 and first["page"] == 1
    assert "call web_extract with page=2 for more" in first["note"]
    assert len(first["content"]) <= 2000
    seen = [first["content"]]
    for number in range(2, pages + 1):
        page = call("web_extract", urls=[site.url("/long")], page=number)["results"][0]
        assert page["page"] == number
        seen.append(page["content"])
    assert "last page" in page["note"]
    assert site.requests.count(("GET", "/long")) == 1  # later pages come from the copy fetched for page 1
    beyond = call("web_extract", urls=[site.url("/long")], page=pages + 5)["results"][0]
    assert beyond["note"].startswith(f"there is no page {pages + 5}; this is the last one. page {pages} of {pages}")
    whole = "".join(seen)
    assert [f"Paragraph {i:03d}" in whole for i in range(60)] == [True] * 60
    assert whole.index("Paragraph 010") < whole.index("Paragraph 050")


def test_http_errors_come_back_as_one_line(site, call):
    result = call("web_extract", urls=[site.url("/missing")])
    assert result["error"] == f"HTTP 404 Not Found for {site.url('/missing')}"
    site.routes["/boom"] = _html("oops", status=500)
    assert call("web_extract", urls=[site.url("/boom")])["error"].startswith("HTTP 500 Internal Server Error")


def test_a_slow_server_gives_a_timeout_error(site, call, monkeypatch):
    monkeypatch.setenv("WEB_TIMEOUT", "0.5")
    site.routes["/slow"] = _html("<p>late</p>", delay=3)
    result = call("web_extract", urls=[site.url("/slow")])
    assert result["error"] == f"timed out after 0.5 s fetching {site.url('/slow')}"


def test_non_html_content_is_refused_by_type(site, call):
    site.routes["/logo.png"] = Route(b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    result = call("web_extract", urls=[site.url("/logo.png")])
    assert result["error"] == (f"not an HTML or text page: {site.url('/logo.png')} is image/png; "
                               "web_extract reads HTML and text only")


def test_huge_pages_are_refused_whether_or_not_their_size_is_declared(site, call, monkeypatch):
    monkeypatch.setenv("WEB_MAX_BYTES", "10000")
    site.routes["/big"] = Route("<p>" + "x" * 50_000 + "</p>")
    site.routes["/big-stream"] = Route("<p>" + "y" * 50_000 + "</p>", send_length=False)
    declared = call("web_extract", urls=[site.url("/big")])["error"]
    assert declared.startswith("page too large: 50,007 bytes") and "WEB_MAX_BYTES" in declared
    streamed = call("web_extract", urls=[site.url("/big-stream")])["error"]
    assert streamed.startswith("page too large: more than 10,000 bytes")


def test_several_urls_report_failures_one_by_one(site, call):
    site.routes["/ok"] = _html("<h1>Fine</h1>")
    result = call("web_extract", urls=[site.url("/ok"), site.url("/gone")])
    assert result["error"] is None
    ok, gone = result["results"]
    assert ok["content"] == "# Fine"
    assert gone == {"url": site.url("/gone"), "error": f"HTTP 404 Not Found for {site.url('/gone')}"}


def test_unreachable_hosts_and_bad_urls(call):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = call("web_extract", urls=[f"http://127.0.0.1:{port}/"])
    assert refused["error"].startswith(f"could not connect to 127.0.0.1:{port}")
    assert call("web_extract", urls=["ftp://example.com/file"])["error"].startswith("not an http(s) URL")
    assert call("web_extract", urls=[])["error"] == "urls must be a non-empty list of http(s) URLs"


def test_web_search_without_a_provider_is_hidden_and_explains_itself(call):
    names = [d["function"]["name"] for d in model_tools.get_tool_definitions(["web"])]
    assert names == ["web_extract", "web_crawl"]
    result = call("web_search", query="python")
    assert result["error"].startswith("web_search is unavailable: it needs a search provider: set FIRECRAWL_API_KEY")
    listing = run_hermes("--list-tools").stdout
    assert "✗ web_search" in listing and "unavailable: needs a search provider" in listing
    assert "✓ web_extract" in listing and "✓ web_crawl" in listing


def _html(body: str, status: int = 200, delay: float = 0.0) -> Route:
    return Route(body, status=status, delay=delay)


def _text(body: str) -> Route:
    return Route(body, content_type="text/plain; charset=utf-8")


def _redirect(location: str) -> Route:
    return Route("", status=302, headers={"Location": location})
