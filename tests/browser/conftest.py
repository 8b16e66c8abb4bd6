"""Browser tests drive Debian's real headless Chromium against a small site served on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import model_tools
from tests.web.web_site import Route, Site, serve

CHROMIUM = "/usr/bin/chromium"

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium package)", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("the playwright Python package is not installed", allow_module_level=True)

PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082")


def _result(path: str, body: bytes, headers: dict[str, str]) -> Route:
    fields = parse_qs(urlsplit(path).query)
    name = escape(fields.get("name", ["nobody"])[0])
    colour = escape(fields.get("colour", ["?"])[0])
    return Route(f"<html><head><title>Result</title></head><body><h1>Hello, {name}!</h1>"
                 f"<p id=colour>Favourite colour: {colour}</p><a href='/'>Start again</a></body></html>")


PAGES = {
    "/": ("<html><head><title>Shop home</title></head><body><nav><a href='/form'>Order form</a></nav>"
          "<main><h1>Welcome to the shop</h1><p>We sell <b>paint</b>.</p>"
          "<img src='/img/tin.png' alt='A tin of paint' width=1 height=1><img src='/img/logo.png' alt='Logo'>"
          "<div hidden><a href='/secret'>hidden link</a></div></main></body></html>"),
    "/form": ("<html><head><title>Order</title></head><body><h1>Order paint</h1>"
              "<form action='/result' method='get'><label for=name>Your name</label><input id=name name=name>"
              "<label>Colour <select name=colour><option>red</option><option>blue</option></select></label>"
              "<label><input type=checkbox name=gift> Gift wrap</label>"
              "<button type=submit>Place order</button></form>"
              "<script>document.title = 'Order (ready)';</script></body></html>"),
    # These pages change by themselves once the test opens their gate (after it has its snapshot), then
    # tell the server (the test waits for that, not a delay).
    "/vanish": ("<html><body><button id=v>Vanishing</button><script>fetch('/gate?vanish').then(() => "
                "{ document.getElementById('v').remove(); fetch('/vanished'); })</script></body></html>"),
    "/disabled": ("<html><body><button disabled>Nope</button><input type=checkbox id=c><label for=c>Tick</label>"
                  "<a href='/form' target=_blank>Form in a new tab</a></body></html>"),
    "/leave": ("<html><body><button>Stay</button>"
               "<script>fetch('/gate?leave').then(() => { location.href = '/left'; })</script></body></html>"),
    "/left": "<html><body><h1>Left</h1><script>fetch('/arrived')</script></body></html>",
    "/clone": ("<html><body><button id=t>Twin</button><script>fetch('/gate?clone').then(() => { const t = "
               "document.getElementById('t'); t.after(t.cloneNode(true)); fetch('/cloned'); })</script>"
               "</body></html>"),
    # Clicking "Drop apples" removes that item and adds a new one: the DOM changes, the document stays.
    "/todo": ("<html><body><ul id=l><li id=a>Apples <button onclick=\"drop('a'); add('Cherries')\">Drop apples</button>"
              "</li><li id=b>Bananas <button onclick=\"drop('b')\">Drop bananas</button></li></ul>"
              "<button onclick=\"l.append(l.lastElementChild.cloneNode(true))\">Copy last</button>"
              "<script>const drop = id => document.getElementById(id).remove();"
              "function add(t) { const li = document.createElement('li');"
              " li.innerHTML = t + ' <button>Drop ' + t.toLowerCase() + '</button>';"
              " document.getElementById('l').appendChild(li); }</script></body></html>"),
}


class Gates:
    """`/gate?NAME` answers once the test calls open(NAME). A page that changed itself after a fixed delay
    could change before the snapshot the test takes first on a loaded machine; a gate cannot."""

    def __init__(self) -> None:
        self._open: dict[str, threading.Event] = defaultdict(threading.Event)

    def route(self, path: str, body: bytes, headers: dict[str, str]) -> Route:
        gate = self._open[urlsplit(path).query]
        gate.wait(60)
        gate.clear()  # the next visit of the page waits again
        return Route("open", content_type="text/plain")

    def open(self, name: str) -> None:
        self._open[name].set()


@pytest.fixture(scope="module")
def gates() -> Gates:
    return Gates()


@pytest.fixture(scope="module")
def shop(gates: Gates) -> Iterator[Site]:
    with serve() as site:
        site.routes.update(PAGES)
        site.routes["/gate"] = gates.route
        site.routes["/result"] = _result
        site.routes["/slow"] = Route("<h1>finally</h1>", delay=3)
        site.routes["/img/tin.png"] = Route(PNG, content_type="image/png")
        site.routes["/img/logo.png"] = Route(PNG, content_type="image/png")
        yield site


@pytest.fixture(autouse=True)
def browser_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("BROWSER_CDP_URL", "BROWSERBASE_API_KEY", "BROWSERBASE_PROJECT_ID", "BROWSERBASE_API_URL",
                 "CHROMIUM_PATH", "BROWSER_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(scope="module", autouse=True)
def stop_browser() -> Iterator[None]:
    """One Chromium serves the whole module (a launch costs about a second); it is closed at the end."""
    yield
    from tools import browser_session

    browser_session.shutdown()


@pytest.fixture
def call() -> Callable[..., dict[str, Any]]:
    """call(tool, task_id="b", **args) -> the JSON the model would get back."""
    def run(name: str, task_id: str = "b", **args: Any) -> dict[str, Any]:
        return json.loads(model_tools.handle_function_call(name, args, task_id=task_id))
    return run


@pytest.fixture(autouse=True)
def close_contexts() -> Iterator[None]:
    yield
    for task_id in ("b", "other", "cdp", "bb"):
        model_tools.cleanup_vm(task_id)
