"""Browser contexts for the `browser` toolset: one per task_id, all driven from one worker thread.

Playwright's sync API must be used from the thread that started it, while tool calls may come from
any thread (REPL worker, batch pool), so every browser operation is a job run by a single daemon
worker. Playwright is imported on that thread at first use, never at start-up.

Where the browser comes from, first match wins:
    BROWSER_CDP_URL                               any CDP endpoint (http://host:9222 or ws://...)
    BROWSERBASE_API_KEY + BROWSERBASE_PROJECT_ID  a Browserbase session per task (BROWSERBASE_API_URL to override)
    otherwise                                     local headless Chromium (CHROMIUM_PATH, else chromium on PATH)
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
BROWSERBASE_URL = "https://api.browserbase.com"


class BrowserError(Exception):
    """Something the model should be told in one line."""


def _settings() -> Any:
    from tools import tool_settings

    return tool_settings.browser()


def timeout_seconds() -> float:
    """browser.timeout (BROWSER_TIMEOUT)."""
    return _settings().timeout


def chromium_path() -> str | None:
    explicit = (_settings().chromium_path or "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def backend() -> str:
    settings = _settings()
    if (settings.cdp_url or "").strip():
        return "cdp"
    if settings.browserbase_api_key or settings.browserbase_project_id:
        return "browserbase"
    return "local"


def unavailable_reason() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright Python package (pip install playwright; no browser download is needed)"
    kind = backend()
    if kind == "browserbase":
        settings = _settings()
        missing = [name for name, value in (("BROWSERBASE_API_KEY", settings.browserbase_api_key),
                                            ("BROWSERBASE_PROJECT_ID", settings.browserbase_project_id)) if not value]
        return f"Browserbase needs {missing[0]} as well" if missing else None
    if kind == "local" and chromium_path() is None:
        explicit = (_settings().chromium_path or "").strip()
        if explicit:
            return f"CHROMIUM_PATH={explicit} is not an executable file"
        return "needs Chromium (apt-get install chromium) or a remote browser in BROWSER_CDP_URL"
    return None


@dataclass
class Session:
    """One task's browser context and what its snapshots handed out."""

    context: Any
    page: Any
    browser: Any = None  # owned by this session (Browserbase), else shared
    release: Callable[[], None] | None = None
    next_ref: int = 1
    snapshot_id: int = 0
    doc_id: int = 0  # the document the refs belong to (set in the page by its first snapshot)
    refs: dict[str, str] = field(default_factory=dict)  # every ref handed out for that document


class _State:
    """Touched only on the worker thread."""

    def __init__(self) -> None:
        self.playwright: Any = None
        self.shared_browser: Any = None
        self.shared_key = ""  # CDP URL or Chromium path the shared browser came from
        self.sessions: dict[str, Session] = {}


_state = _State()
_jobs: queue.Queue = queue.Queue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _worker() -> None:
    while True:
        fn, future = _jobs.get()
        if fn is None:
            future.set_result(None)
            return
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the caller's thread, which turns it into a tool error
            future.set_exception(exc)


def run(fn: Callable[[], Any], timeout: float | None = None, interrupt: threading.Event | None = None) -> Any:
    """Run `fn` on the browser thread and return its result (or raise its exception).

    With `interrupt` set (Ctrl-C in the REPL) the caller stops waiting at once; the browser
    finishes the step on its own and the next call sees the page as it then is.
    """
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_worker, name="hermes-browser", daemon=True)
            _thread.start()
    future: Future = Future()
    _jobs.put((fn, future))
    limit = timeout if timeout is not None else timeout_seconds() * 2 + 30
    deadline = time.monotonic() + limit
    while True:
        try:
            return future.result(timeout=0.1 if interrupt is not None else limit)
        except FutureTimeout:
            if interrupt is not None and interrupt.is_set():
                future.cancel()
                raise BrowserError("interrupted by the user") from None
            if time.monotonic() >= deadline:
                future.cancel()
                raise BrowserError(f"the browser did not answer within {limit:g} s") from None


# -- on the worker thread ----------------------------------------------------------------------
def _playwright() -> Any:
    if _state.playwright is None:
        from playwright.sync_api import sync_playwright

        _state.playwright = sync_playwright().start()
    return _state.playwright


def _shared_browser() -> Any:
    kind = backend()
    key = (_settings().cdp_url or "").strip() if kind == "cdp" else (chromium_path() or "")
    browser = _state.shared_browser
    if browser is not None and browser.is_connected() and _state.shared_key == key:
        return browser
    if browser is not None:  # configuration changed (or the browser died): start over
        _shutdown_on_worker(stop_driver=False)
    chromium = _playwright().chromium
    if kind == "cdp":
        url = key
        try:
            browser = chromium.connect_over_cdp(url, timeout=timeout_seconds() * 1000)
        except Exception as exc:
            raise BrowserError(f"could not connect to the browser at BROWSER_CDP_URL: {first_line(exc)}") from None
    else:
        path = chromium_path()
        if path is None:
            raise BrowserError(unavailable_reason() or "no Chromium found")
        try:
            browser = chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS,
                                      timeout=timeout_seconds() * 1000)
        except Exception as exc:
            raise BrowserError(f"could not start Chromium ({path}): {first_line(exc)}") from None
    _state.shared_browser, _state.shared_key = browser, key
    return browser


def _browserbase_session() -> tuple[Any, Callable[[], None]]:
    import httpx

    settings = _settings()
    base = (settings.browserbase_api_url or BROWSERBASE_URL).rstrip("/")
    project = settings.browserbase_project_id
    headers = {"X-BB-API-Key": settings.browserbase_api_key or ""}
    try:
        response = httpx.post(f"{base}/v1/sessions", json={"projectId": project}, headers=headers, timeout=30)
        response.raise_for_status()
        info = response.json()
        connect_url, session_id = info["connectUrl"], info["id"]
    except httpx.HTTPStatusError as exc:
        raise BrowserError(f"Browserbase refused to create a session: HTTP {exc.response.status_code}") from None
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise BrowserError(f"could not create a Browserbase session: {first_line(exc)}") from None
    try:
        browser = _playwright().chromium.connect_over_cdp(connect_url, timeout=timeout_seconds() * 1000)
    except Exception as exc:
        raise BrowserError(f"could not connect to the Browserbase session: {first_line(exc)}") from None

    def release() -> None:
        try:  # ends billing at once instead of at the session timeout
            httpx.post(f"{base}/v1/sessions/{session_id}", headers=headers, timeout=10,
                       json={"projectId": project, "status": "REQUEST_RELEASE"})
        except httpx.HTTPError:
            pass

    return browser, release


def get_session(task_id: str) -> Session:
    session = _state.sessions.get(task_id)
    if session is not None:
        if not session.page.is_closed():
            return session
        still_open = [page for page in session.context.pages if not page.is_closed()]
        if still_open:  # the tab we followed was closed: fall back to the newest one left
            session.page = still_open[-1]
            return session
        close_on_worker(task_id)
    if backend() == "browserbase":
        browser, release = _browserbase_session()
        context = browser.contexts[0] if browser.contexts else browser.new_context()
        session = Session(context=context, page=None, browser=browser, release=release)
    else:
        context = _shared_browser().new_context(viewport={"width": 1280, "height": 900})
        session = Session(context=context, page=None)
    session.context.set_default_timeout(timeout_seconds() * 1000)
    session.page = session.context.pages[0] if session.context.pages else session.context.new_page()
    # A link with target=_blank or window.open() opens a tab; the model follows it like a user would.
    session.context.on("page", lambda page: setattr(session, "page", page))
    _state.sessions[task_id] = session
    return session


def close_on_worker(task_id: str) -> bool:
    session = _state.sessions.pop(task_id, None)
    if session is None:
        return False
    for step in (session.context.close, session.browser.close if session.browser else None, session.release):
        if step is None:
            continue
        try:
            step()
        except Exception:  # a dead browser cannot be closed twice; carry on releasing the rest
            pass
    return True


def _shutdown_on_worker(stop_driver: bool = True) -> None:
    for task_id in list(_state.sessions):
        close_on_worker(task_id)
    closers = [_state.shared_browser.close if _state.shared_browser else None]
    if stop_driver:
        closers.append(_state.playwright.stop if _state.playwright else None)
    for closer in closers:
        try:
            if closer:
                closer()
        except Exception:  # closing a dead browser fails; what matters is dropping it
            pass
    _state.shared_browser = None
    if stop_driver:
        _state.playwright = None


# -- from any thread -----------------------------------------------------------------------------
def has_session(task_id: str) -> bool:
    """Whether the browser holds a context of this task (its worker adds and removes them; after the
    task's last call nothing else does)."""
    return _thread is not None and _thread.is_alive() and task_id in _state.sessions


def close_session(task_id: str) -> bool:
    """Close one task's context (its pages and cookies); False when it had none."""
    if _thread is None or not _thread.is_alive():
        return False
    try:
        return bool(run(lambda: close_on_worker(task_id), timeout=20))
    except BrowserError:
        return False


def shutdown() -> None:
    """Close every context, the shared browser and the Playwright driver (at exit, and in tests)."""
    global _thread
    if _thread is None or not _thread.is_alive():
        return
    try:
        run(_shutdown_on_worker, timeout=20)
    except BrowserError:
        pass
    done: Future = Future()
    _jobs.put((None, done))
    _thread.join(timeout=5)
    _thread = None


def first_line(exc: BaseException) -> str:
    """Playwright errors append a multi-line call log; the first line is the message.

    Query strings are dropped from URLs in it: remote CDP endpoints carry API keys there.
    """
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]+)\?[^\s]*", r"\1?[query hidden]", text)
    return text.removeprefix("Error: ").strip()[:300]


atexit.register(shutdown)
