"""The browser toolset against a real headless Chromium: what the model sees after each action."""

from __future__ import annotations

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import model_tools
from tests.conftest import ROOT, run_hermes


def ref_of(snapshot: str, start: str) -> str:
    """The @eN ref on the snapshot line that starts (after indentation) with `start`."""
    for line in snapshot.splitlines():
        if line.strip().startswith(start):
            match = re.search(r"@(e\d+)$", line)
            assert match, line
            return "@" + match.group(1)
    raise AssertionError(f"no line starting with {start!r} in:\n{snapshot}")


def test_fill_and_submit_a_form_then_go_back(shop, call):
    home = call("browser_navigate", url=shop.url("/"))
    assert home["title"] == "Shop home" and home["status"] == 200
    snap = home["snapshot"]
    assert 'heading "Welcome to the shop" [level=1]' in snap
    assert '"We sell paint."' in snap
    assert 'img "A tin of paint"' in snap
    assert "hidden link" not in snap

    form = call("browser_click", ref=ref_of(snap, 'link "Order form"'))
    assert form["url"] == shop.url("/form") and form["title"] == "Order (ready)"  # scripts ran
    snap = form["snapshot"]
    assert 'textbox "Your name"' in snap
    assert 'combobox "Colour" value="red" options="red | blue"' in snap
    assert 'checkbox "Gift wrap"' in snap

    typed = call("browser_type", ref=ref_of(snap, 'textbox "Your name"'), text="Ada Lovelace")
    assert typed["value"] == "Ada Lovelace"
    assert call("browser_type", ref=ref_of(snap, 'combobox "Colour"'), text="blue")["value"] == "blue"
    colour = ref_of(snap, 'combobox "Colour"')
    assert call("browser_type", ref=colour, text="green")["error"] == f"{colour} has no option 'green'; options: red | blue"
    after = call("browser_snapshot")
    assert 'textbox "Your name" value="Ada Lovelace"' in after["snapshot"]
    assert 'combobox "Colour" value="blue"' in after["snapshot"]

    result = call("browser_click", ref=ref_of(after["snapshot"], 'button "Place order"'))
    assert result["title"] == "Result"
    assert 'heading "Hello, Ada Lovelace!" [level=1]' in result["snapshot"]
    assert '"Favourite colour: blue"' in result["snapshot"]

    back = call("browser_back")
    assert back["url"] == shop.url("/form")
    assert 'button "Place order"' in back["snapshot"]


def test_type_with_submit_presses_enter(shop, call):
    snap = call("browser_navigate", url=shop.url("/form"))["snapshot"]
    result = call("browser_type", ref=ref_of(snap, 'textbox "Your name"'), text="Grace", submit=True)
    assert result["submitted"] is True
    assert 'heading "Hello, Grace!" [level=1]' in result["snapshot"]


def test_stale_unknown_and_malformed_refs_are_clear_errors(shop, call):
    first = call("browser_navigate", url=shop.url("/"))["snapshot"]
    old_ref = ref_of(first, 'link "Order form"')
    call("browser_navigate", url=shop.url("/form"))
    stale = call("browser_click", ref=old_ref)
    assert stale["error"].startswith(f"ref {old_ref} is stale: the page navigated since that snapshot "
                                     f"(now at {shop.url('/form')}; its refs: @e")
    assert stale["error"].endswith("Take a new browser_snapshot")

    assert call("browser_click", ref="@e999")["error"].startswith("unknown ref @e999; current refs: @e")
    assert call("browser_click", ref="submit")["error"] == (
        "ref must look like @e12 (from browser_snapshot), got 'submit'")



def test_refs_go_stale_when_the_page_changes_by_itself(shop, gates, call):
    snap = call("browser_navigate", url=shop.url("/vanish"))["snapshot"]
    button = ref_of(snap, 'button "Vanishing"')
    gates.open("vanish")
    wait_for_request(shop, "/vanished")  # the page's own script removed the button
    gone = call("browser_click", ref=button)
    assert gone["error"] == (f'ref {button} (button "Vanishing") is stale: the element is gone from the page '
                             f"since the snapshot (now at {shop.url('/vanish')}). Take a new browser_snapshot")

    snap = call("browser_navigate", url=shop.url("/leave"))["snapshot"]
    button = ref_of(snap, 'button "Stay"')
    gates.open("leave")
    wait_for_request(shop, "/arrived")  # the page sent itself to /left, which has loaded
    moved = call("browser_click", ref=button)
    assert moved["error"].startswith(f'ref {button} (button "Stay") is stale: the page navigated since the snapshot '
                                     f"(now at {shop.url('/left')})")


def test_one_snapshot_plans_several_actions(shop, call):
    """Tick, type, then submit, all with refs from the first snapshot (clicks re-snapshot in between)."""
    snap = call("browser_navigate", url=shop.url("/form"))["snapshot"]
    gift, name, order = (ref_of(snap, start) for start in ('checkbox "Gift wrap"', 'textbox "Your name"',
                                                           'button "Place order"'))
    ticked = call("browser_click", ref=gift)
    assert f'checkbox "Gift wrap" [checked] {gift}' in ticked["snapshot"]
    assert ref_of(ticked["snapshot"], 'textbox "Your name"') == name  # the next snapshot kept the numbers
    assert call("browser_type", ref=name, text="Ada")["value"] == "Ada"
    result = call("browser_click", ref=order)
    assert 'heading "Hello, Ada!" [level=1]' in result["snapshot"]


def test_refs_survive_dom_changes_until_their_element_goes(shop, call):
    snap = call("browser_navigate", url=shop.url("/todo"))["snapshot"]
    apples, bananas = ref_of(snap, 'button "Drop apples"'), ref_of(snap, 'button "Drop bananas"')
    after = call("browser_click", ref=apples)["snapshot"]
    assert "Apples" not in after
    assert ref_of(after, 'button "Drop bananas"') == bananas
    cherries = ref_of(after, 'button "Drop cherries"')
    assert int(cherries[2:]) > max(int(apples[2:]), int(bananas[2:]))  # a new element gets a new number

    gone = call("browser_click", ref=apples)
    assert gone["error"] == (f'ref {apples} (button "Drop apples") is stale: the element is gone from the page '
                             f"since the snapshot (now at {shop.url('/todo')}). Take a new browser_snapshot")
    dropped = call("browser_click", ref=bananas)  # from the first snapshot, and its element still exists
    assert "error" not in dropped and "Bananas" not in dropped["snapshot"]
    assert ref_of(dropped["snapshot"], 'button "Drop cherries"') == cherries


def test_a_copied_element_gets_its_own_ref(shop, gates, call):
    snap = call("browser_navigate", url=shop.url("/todo"))["snapshot"]
    bananas = ref_of(snap, 'button "Drop bananas"')
    page = call("browser_click", ref=ref_of(snap, 'button "Copy last"'))["snapshot"]  # clones the item, tag too
    refs = [line.rsplit(" ", 1)[1] for line in page.splitlines() if 'button "Drop bananas"' in line]
    assert len(refs) == 2 and refs[0] == bananas and refs[1] != bananas  # the copy got its own number
    after = call("browser_click", ref=bananas)["snapshot"]  # drops the original item (the first #b)
    assert [line.rsplit(" ", 1)[1] for line in after.splitlines() if 'button "Drop bananas"' in line] == refs[1:]

    snap = call("browser_navigate", url=shop.url("/clone"))["snapshot"]
    button = ref_of(snap, 'button "Twin"')
    gates.open("clone")
    wait_for_request(shop, "/cloned")  # the page copied the button, tag included, with no snapshot since
    twice = call("browser_click", ref=button)
    assert twice["error"] == (f'ref {button} (button "Twin") is stale: the page copied the element since the '
                              f"snapshot, so the ref names more than one (now at {shop.url('/clone')}). "
                              "Take a new browser_snapshot")
    fresh = call("browser_snapshot")["snapshot"]
    assert [line.rsplit(" ", 1)[1] for line in fresh.splitlines() if 'button "Twin"' in line][0] == button
    assert "error" not in call("browser_click", ref=button)


def test_parallel_calls_from_one_snapshot(shop, call):
    snap = call("browser_navigate", url=shop.url("/form"))["snapshot"]
    jobs = [("browser_click", {"ref": ref_of(snap, 'checkbox "Gift wrap"')}),
            ("browser_type", {"ref": ref_of(snap, 'textbox "Your name"'), "text": "Ada"}),
            ("browser_type", {"ref": ref_of(snap, 'combobox "Colour"'), "text": "blue"})]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda job: call(job[0], **job[1]), jobs))
    assert [r.get("error") for r in results] == [None, None, None]
    after = call("browser_snapshot")["snapshot"]
    assert 'checkbox "Gift wrap" [checked]' in after and 'value="Ada"' in after and 'value="blue"' in after


def test_reloading_the_page_invalidates_its_refs(shop, call):
    first = call("browser_navigate", url=shop.url("/form"))["snapshot"]
    old = ref_of(first, 'textbox "Your name"')
    again = call("browser_navigate", url=shop.url("/form"))["snapshot"]  # same URL, new document
    new = ref_of(again, 'textbox "Your name"')
    assert new != old  # numbers keep counting, so an old ref never names an element of the new page
    stale = call("browser_type", ref=old, text="x")
    assert stale["error"].startswith(f"ref {old} is stale: the page navigated since that snapshot")
    assert call("browser_type", ref=new, text="Ada")["value"] == "Ada"


def wait_for_request(site, path: str, timeout: float = 20) -> float:
    """When the site was asked for `path` (polled; the timeout is only an upper bound)."""
    deadline = time.monotonic() + timeout
    while ("GET", path) not in site.requests:
        assert time.monotonic() < deadline, f"the page never asked for {path}"
        time.sleep(0.02)
    return time.monotonic()


def test_images_scroll_and_keys(shop, call):
    call("browser_navigate", url=shop.url("/"))
    images = call("browser_get_images")
    assert images["count"] == 2
    assert images["images"][0] == {"src": shop.url("/img/tin.png"), "alt": "A tin of paint", "width": 1, "height": 1}
    scrolled = call("browser_scroll", direction="down")
    assert scrolled["scrolled"] == "down" and scrolled["at_bottom"] is True  # a short page
    assert call("browser_scroll", direction="sideways")["error"] == "direction must be 'up' or 'down'"
    assert call("browser_press", key="NoSuchKey")["error"].startswith("cannot press 'NoSuchKey': ")


def test_navigation_errors(shop, call):
    missing = call("browser_navigate", url=shop.url("/nowhere"))
    assert missing["status"] == 404
    assert missing["error"] == f"HTTP 404 for {shop.url('/nowhere')}; the page below is the server's error page"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = call("browser_navigate", url=f"http://127.0.0.1:{port}/")
    assert refused["error"].startswith(f"could not load http://127.0.0.1:{port}/: ")
    assert "ERR_CONNECTION_REFUSED" in refused["error"]
    assert call("browser_back", task_id="fresh")["error"].startswith("there is no previous page")
    model_tools.cleanup_vm("fresh")


def test_each_task_has_its_own_context_and_close_ends_it(shop, call):
    call("browser_navigate", url=shop.url("/"))
    call("browser_navigate", task_id="other", url=shop.url("/form"))
    assert call("browser_snapshot")["url"] == shop.url("/")
    assert call("browser_snapshot", task_id="other")["url"] == shop.url("/form")
    assert call("browser_close", task_id="other") == {"closed": True, "note": None}
    assert call("browser_close", task_id="other")["closed"] is False
    assert call("browser_snapshot", task_id="other")["url"] == "about:blank"  # a new, empty context
    model_tools.cleanup_vm("b")
    assert call("browser_snapshot")["url"] == "about:blank"


def test_missing_chromium_hides_the_browser_tools_with_a_reason(monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", "/nonexistent/chromium")
    names = [d["function"]["name"] for d in model_tools.get_tool_definitions(["browser"])]
    assert names == []
    listing = run_hermes("--list-tools").stdout
    assert "✗ browser_navigate" in listing
    assert "unavailable: CHROMIUM_PATH=/nonexistent/chromium is not an executable file" in listing
    monkeypatch.setenv("CHROMIUM_PATH", "/usr/bin/chromium")
    assert len(model_tools.get_tool_definitions(["browser"])) == 9


def test_disabled_elements_and_checkboxes(shop, call):
    snap = call("browser_navigate", url=shop.url("/disabled"))["snapshot"]
    assert 'button "Nope" [disabled]' in snap
    button = ref_of(snap, 'button "Nope"')
    assert call("browser_click", ref=button)["error"] == f'{button} (button "Nope") is disabled'
    ticked = call("browser_click", ref=ref_of(snap, 'checkbox "Tick"'))
    assert 'checkbox "Tick" [checked]' in ticked["snapshot"]
    tab = call("browser_click", ref=ref_of(ticked["snapshot"], 'link "Form in a new tab"'))
    assert tab["url"] == shop.url("/form") and 'button "Place order"' in tab["snapshot"]


def test_chromium_is_gone_when_hermes_exits(shop, tmp_path):
    """The browser belongs to the process: at exit its contexts, Chromium and the driver are closed."""
    import os
    import subprocess
    import sys

    pids = tmp_path / "pids"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\necho $$ >> {pids}\nexec /usr/bin/chromium "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    code = ("import json, model_tools\n"
            f"r = json.loads(model_tools.handle_function_call('browser_navigate', {{'url': '{shop.url('/')}'}}, 'x'))\n"
            "print(r['title'])\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "CHROMIUM_PATH": str(wrapper)}, cwd=ROOT)
    assert run.stdout.strip() == "Shop home", run.stderr
    pid = int(pids.read_text().split()[0])
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "Chromium outlived the process that started it"


def test_ctrl_c_stops_waiting_for_a_slow_page(shop):
    import json
    import threading

    from tools.registry import ToolContext

    ctx = ToolContext(task_id="b", interrupt=threading.Event())
    asked = []  # Ctrl-C once the page is being loaded, however long the browser took to start
    threading.Thread(target=lambda: asked.append(wait_for_request(shop, "/slow")) or ctx.interrupt.set(),
                     daemon=True).start()
    result = json.loads(model_tools.handle_function_call("browser_navigate", {"url": shop.url("/slow")}, ctx=ctx))
    assert result == {"error": "interrupted by the user"}
    assert time.monotonic() - asked[0] < 2.5  # before the page's 3 s were up


def test_file_urls_to_credentials_are_refused_like_read_file(call, tmp_path, monkeypatch):
    """A file:// page is a file read: the user's keys are refused, typed or reached by a link."""
    home, ws = tmp_path / "home", tmp_path / "ws"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("DECOYKEY-4b1e the private key\n")
    ws.mkdir()
    (ws / "page.html").write_text(f'<a href="file://{home}/.ssh/id_ed25519">open the key</a><p>plain page</p>')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TERMINAL_CWD", str(ws))
    typed = call("browser_navigate", url=f"file://{home}/.ssh/id_ed25519")
    assert typed == {"error": f"cannot open file://{home}/.ssh/id_ed25519: ~/.ssh/id_ed25519 holds keys or "
                              "credentials; the model may not read it"}
    page = call("browser_navigate", url=f"file://{ws}/page.html")
    assert '"plain page"' in page["snapshot"]  # ordinary files still open
    clicked = call("browser_click", ref=ref_of(page["snapshot"], 'link "open the key"'))
    assert "DECOYKEY" not in str(clicked)
    assert clicked["error"].endswith("~/.ssh/id_ed25519 holds keys or credentials; the model may not read it")
    assert call("browser_snapshot")["url"] == "about:blank"
