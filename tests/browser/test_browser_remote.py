"""Remote browsers: any CDP endpoint (BROWSER_CDP_URL) and Browserbase (its sessions API, stood in for here).

The far end is a real Chromium started by the test with --remote-debugging-port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import model_tools
from tests.browser.conftest import CHROMIUM
from tests.web.web_site import Route, serve


@pytest.fixture(scope="module")
def remote_chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless Chromium listening for CDP; yields its http://127.0.0.1:PORT endpoint."""
    profile = tmp_path_factory.mktemp("remote-profile")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline, "remote Chromium did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
    finally:
        from tools import browser_session

        browser_session.shutdown()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_cdp_url_drives_a_remote_browser(remote_chromium, shop, call, monkeypatch):
    monkeypatch.setenv("BROWSER_CDP_URL", remote_chromium)
    monkeypatch.setenv("CHROMIUM_PATH", "/nonexistent")  # must not matter: no local launch
    assert len(model_tools.get_tool_definitions(["browser"])) == 9
    page = call("browser_navigate", task_id="cdp", url=shop.url("/form"))
    assert page["title"] == "Order (ready)"
    with urllib.request.urlopen(remote_chromium + "/json/list") as response:  # the page lives over there
        assert shop.url("/form") in [target["url"] for target in json.load(response)]


def test_browserbase_session_is_created_used_and_released(remote_chromium, shop, call, monkeypatch):
    with urllib.request.urlopen(remote_chromium + "/json/version") as response:
        ws_url = json.load(response)["webSocketDebuggerUrl"]
    with serve() as api:
        api.routes["/v1/sessions"] = Route(json.dumps({"id": "sess-1", "connectUrl": ws_url, "status": "RUNNING"}),
                                           status=201, content_type="application/json")
        api.routes["/v1/sessions/sess-1"] = Route("{}", content_type="application/json")
        monkeypatch.setenv("BROWSERBASE_API_URL", api.base)
        monkeypatch.setenv("BROWSERBASE_API_KEY", "bb-test-key")
        monkeypatch.delenv("BROWSERBASE_PROJECT_ID", raising=False)
        listing = model_tools.tool_availability()
        assert {s.reason for s in listing if s.toolset == "browser"} == {"Browserbase needs BROWSERBASE_PROJECT_ID as well"}
        monkeypatch.setenv("BROWSERBASE_PROJECT_ID", "proj-1")

        page = call("browser_navigate", task_id="bb", url=shop.url("/"))
        assert page["title"] == "Shop home"
        assert call("browser_close", task_id="bb")["closed"] is True
        created, released = api.requests[0], api.requests[-1]
        assert created == ("POST", "/v1/sessions") and api.headers[0]["X-BB-API-Key"] == "bb-test-key"
        assert released == ("POST", "/v1/sessions/sess-1")


def test_unreachable_cdp_endpoint_is_one_line(call, monkeypatch):
    monkeypatch.setenv("BROWSER_CDP_URL", "http://127.0.0.1:9/")
    result = call("browser_navigate", task_id="cdp", url="about:blank")
    assert result["error"].startswith("could not connect to the browser at BROWSER_CDP_URL: ")
    assert "\n" not in result["error"]
