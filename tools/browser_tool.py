"""The `browser` toolset: navigate, snapshot (@eN refs), click, type, scroll, back, press, images, close.

Each task_id has its own browser context (tools/browser_session.py). Actions that can change the page
(navigate, click, press, back) return a fresh snapshot, so the model reads the result without
another call. A ref stays valid while its element exists in the same document, so several actions
can be planned from one snapshot; a ref whose element is gone, or whose page navigated away, is
refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tools import browser_session as bs
from tools.browser_snapshot import IMAGES_JS, REF_STATE_JS, SNAPSHOT_JS
from tools.registry import Tool, ToolContext, register, tool_error, tool_result

SNAPSHOT_CHARS = 15_000
REF_RE = re.compile(r"^@?(e\d+)$")


def _call(ctx: ToolContext, job: Callable[[bs.Session], dict[str, Any]]) -> str:
    """Run `job(session)` on the browser thread; every failure becomes one line for the model."""
    def on_worker() -> dict[str, Any]:
        return job(bs.get_session(ctx.task_id))
    try:
        return tool_result(**bs.run(on_worker, interrupt=ctx.interrupt))
    except bs.BrowserError as exc:
        return tool_error(str(exc))
    except Exception as exc:  # Playwright's Error/TimeoutError; the class is not imported here
        message = bs.first_line(exc)
        if "Timeout" in message:
            message += f" (BROWSER_TIMEOUT is {bs.timeout_seconds():g} s)"
        return tool_error(f"browser error: {message}")


def file_url_refusal(url: str) -> str | None:
    """A file:// page is a file read: credentials are refused as read_file refuses them (one gate)."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    from urllib.parse import unquote

    from tools.gate import policy_for

    return policy_for(None).read_refusal(unquote(parts.path) or "/")


def snapshot(session: bs.Session) -> dict[str, Any]:
    page = session.page
    if why := file_url_refusal(url := page.url):  # reached by a link, a redirect or going back
        page.goto("about:blank")
        raise bs.BrowserError(f"cannot show {url}: {why}")
    session.snapshot_id += 1
    data = page.evaluate(SNAPSHOT_JS, [session.next_ref, session.snapshot_id])
    if data["doc"] != session.doc_id:  # a new document: the previous page's refs are all stale
        session.doc_id, session.refs = data["doc"], {}
    # Refs of this document seen before but not now stay known, so using one says "gone", not "unknown".
    session.next_ref = data["next"]
    session.refs.update(data["refs"])
    text = "\n".join(data["lines"]) or "(the page has no visible content)"
    fields: dict[str, Any] = {"url": page.url, "title": page.title(), "snapshot": text}
    if len(text) > SNAPSHOT_CHARS:
        cut = text.rfind("\n", 0, SNAPSHOT_CHARS)
        fields["snapshot"] = text[: cut if cut > 0 else SNAPSHOT_CHARS]
        fields["note"] = f"snapshot cut at {len(fields['snapshot']):,} of {len(text):,} chars"
    return fields


def _span(session: bs.Session) -> str:
    numbers = sorted(int(ref[1:]) for ref in session.refs)
    return f"@e{numbers[0]}–@e{numbers[-1]}" if numbers else "none (this page has no interactive elements)"


def _locate(session: bs.Session, raw: Any) -> Any:
    """The element behind a ref handed out for the current page, or a BrowserError saying why not."""
    match = REF_RE.match(str(raw or "").strip())
    if not match:
        raise bs.BrowserError(f"ref must look like @e12 (from browser_snapshot), got {raw!r}")
    ref = match.group(1)
    if ref not in session.refs:
        if int(ref[1:]) < session.next_ref:  # handed out, but for a document that is no longer shown
            raise bs.BrowserError(f"ref @{ref} is stale: the page navigated since that snapshot (now at "
                                  f"{session.page.url}; its refs: {_span(session)}). Take a new browser_snapshot")
        raise bs.BrowserError(f"unknown ref @{ref}; current refs: {_span(session)}. Take a browser_snapshot first")
    state = session.page.evaluate(REF_STATE_JS, [ref, session.doc_id])
    if state != "ok":
        why = {"navigated": "the page navigated since the snapshot",
               "missing": "the element is gone from the page since the snapshot"}.get(
            state, "the page copied the element since the snapshot, so the ref names more than one")
        raise bs.BrowserError(f"ref @{ref} ({session.refs[ref]}) is stale: {why} "
                              f"(now at {session.page.url}). Take a new browser_snapshot")
    return session.page.locator(f'[data-hermes-ref="{ref}"]')


def target_ref(args: dict[str, Any]) -> str:
    return str(args.get("ref") or "").strip().lstrip("@")


def _settle(page: Any) -> None:
    """Give a click or key press the chance to start a navigation, then wait for it to load."""
    page.wait_for_timeout(150)
    try:
        page.wait_for_load_state("load", timeout=bs.timeout_seconds() * 1000)
    except Exception:  # a slow subresource must not fail an action that already happened
        pass


# -- handlers ----------------------------------------------------------------------------------
def browser_navigate(args: dict[str, Any], ctx: ToolContext) -> str:
    url = str(args.get("url") or "").strip()
    if not url:
        return tool_error("url must be a non-empty string")
    if not urlsplit(url).scheme:
        url = "https://" + url
    if urlsplit(url).scheme not in ("http", "https", "file", "about", "data"):
        return tool_error(f"cannot open {url!r}: only http(s), file, about and data URLs")
    if why := file_url_refusal(url):
        return tool_error(f"cannot open {url}: {why}")

    def job(session: bs.Session) -> dict[str, Any]:
        try:
            response = session.page.goto(url, wait_until="load")
        except Exception as exc:
            raise bs.BrowserError(f"could not load {url}: {bs.first_line(exc)}") from None
        result = snapshot(session)
        status = response.status if response is not None else None
        if status is not None and status >= 400:
            result["error"] = f"HTTP {status} for {url}; the page below is the server's error page"
        result["status"] = status
        return result

    return _call(ctx, job)


def browser_snapshot(args: dict[str, Any], ctx: ToolContext) -> str:
    return _call(ctx, snapshot)


def browser_click(args: dict[str, Any], ctx: ToolContext) -> str:
    def job(session: bs.Session) -> dict[str, Any]:
        target = _locate(session, args.get("ref"))
        if target.is_disabled():  # click() would wait for it to become enabled until the timeout
            raise bs.BrowserError(f"{args.get('ref')} ({session.refs[target_ref(args)]}) is disabled")
        target.click()
        _settle(session.page)
        return {"clicked": args.get("ref"), **snapshot(session)}

    return _call(ctx, job)


def browser_type(args: dict[str, Any], ctx: ToolContext) -> str:
    text = args.get("text")
    if not isinstance(text, str):
        return tool_error("text must be a string")

    def job(session: bs.Session) -> dict[str, Any]:
        target = _locate(session, args.get("ref"))
        try:
            options = target.evaluate("e => e.tagName === 'SELECT' ? Array.from(e.options).map(o => o.text.trim()) : null")
            if options is not None:  # a combobox: choose the option by its label
                if text.strip() not in options:  # select_option would wait for it until the timeout
                    raise bs.BrowserError(f"{args.get('ref')} has no option {text!r}; options: {' | '.join(options)}")
                target.select_option(label=text.strip())
            else:
                target.fill(text)
        except bs.BrowserError:
            raise
        except Exception as exc:
            raise bs.BrowserError(f"cannot type into {args.get('ref')}: {bs.first_line(exc)}") from None
        if args.get("submit"):
            target.press("Enter")
            _settle(session.page)
            return {"typed": text, "submitted": True, **snapshot(session)}
        try:
            value = target.input_value()
        except Exception:  # contenteditable elements have no value
            value = target.inner_text()
        return {"typed": text, "ref": args.get("ref"), "value": value}

    return _call(ctx, job)


def browser_scroll(args: dict[str, Any], ctx: ToolContext) -> str:
    direction = str(args.get("direction") or "down").lower()
    if direction not in ("up", "down"):
        return tool_error("direction must be 'up' or 'down'")

    def job(session: bs.Session) -> dict[str, Any]:
        page = session.page
        height = page.viewport_size["height"] if page.viewport_size else 800
        page.mouse.wheel(0, height * (0.8 if direction == "down" else -0.8))
        page.wait_for_timeout(200)
        pos = page.evaluate("() => [window.scrollY, document.documentElement.scrollHeight, window.innerHeight]")
        return {"scrolled": direction, "scroll_y": pos[0], "page_height": pos[1],
                "at_bottom": pos[0] + pos[2] >= pos[1] - 2, "at_top": pos[0] <= 0}

    return _call(ctx, job)


def browser_back(args: dict[str, Any], ctx: ToolContext) -> str:
    def job(session: bs.Session) -> dict[str, Any]:
        before = session.page.url
        response = session.page.go_back(wait_until="load")
        if response is None and session.page.url == before:
            raise bs.BrowserError(f"there is no previous page in this tab's history (still at {before})")
        return snapshot(session)

    return _call(ctx, job)


def browser_press(args: dict[str, Any], ctx: ToolContext) -> str:
    key = str(args.get("key") or "").strip()
    if not key:
        return tool_error("key must be a key name such as Enter, Tab, Escape, ArrowDown or Control+a")

    def job(session: bs.Session) -> dict[str, Any]:
        try:
            session.page.keyboard.press(key)
        except Exception as exc:
            raise bs.BrowserError(f"cannot press {key!r}: {bs.first_line(exc)}") from None
        _settle(session.page)
        return {"pressed": key, **snapshot(session)}

    return _call(ctx, job)


def browser_get_images(args: dict[str, Any], ctx: ToolContext) -> str:
    def job(session: bs.Session) -> dict[str, Any]:
        images = session.page.evaluate(IMAGES_JS, 100)
        return {"url": session.page.url, "images": images, "count": len(images)}

    return _call(ctx, job)


def browser_close(args: dict[str, Any], ctx: ToolContext) -> str:
    closed = bs.close_session(ctx.task_id)
    return tool_result(closed=closed, note=None if closed else "no browser was open for this task")


def _check() -> str | None:
    return bs.unavailable_reason()


_REF = {"type": "string", "description": "Element ref from a snapshot of the current page, e.g. @e3"}
TOOLS = [
    ("browser_navigate", "Open a URL in the browser and return a snapshot of the page (text tree with @eN refs).",
     {"url": {"type": "string", "description": "URL to open"}}, ["url"], browser_navigate),
    ("browser_snapshot", "Snapshot the current page: a compact text tree; interactive elements carry @eN refs.",
     {}, [], browser_snapshot),
    ("browser_click", "Click the element with this ref; returns the page afterwards.",
     {"ref": _REF}, ["ref"], browser_click),
    ("browser_type", "Replace the text of an input (or choose a combobox option) by ref; submit=true presses Enter.",
     {"ref": _REF, "text": {"type": "string", "description": "Text to enter"},
      "submit": {"type": "boolean", "description": "Press Enter after typing"}}, ["ref", "text"], browser_type),
    ("browser_scroll", "Scroll the page by about one screen.",
     {"direction": {"type": "string", "enum": ["up", "down"]}}, ["direction"], browser_scroll),
    ("browser_back", "Go back to the previous page.", {}, [], browser_back),
    ("browser_press", "Press a key or chord (Enter, Tab, Escape, ArrowDown, Control+a).",
     {"key": {"type": "string", "description": "Key name"}}, ["key"], browser_press),
    ("browser_get_images", "List the page's images (src, alt, size).", {}, [], browser_get_images),
    ("browser_close", "Close this task's browser (pages, cookies).", {}, [], browser_close),
]

for _name, _description, _properties, _required, _handler in TOOLS:
    register(Tool(name=_name, toolset="browser", description=_description, handler=_handler, check=_check,
                  parameters={"type": "object", "properties": _properties, "required": _required}))
