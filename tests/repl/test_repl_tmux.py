"""The REPL in a real terminal multiplexer (tmux, which reflows lines when the window narrows):
resizing during a slow streamed answer, and `display.live: false`.

tmux has its own socket per test (-L), so nothing here touches a user's sessions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from scripted_server import Reply
from tests.conftest import HERMES

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, llm, cwd: Path, *, width: int = 100, height: int = 40, argv: list[str] | None = None,
                 ready: str = "❯") -> None:
        self.socket = f"hermes-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env.update(TERM="xterm-256color", HERMES_DISABLE_SPINNER="1")
        argv = argv or [sys.executable, str(HERMES), "--base-url", llm.base_url, "--api-key", "sk-test-0123456789",
                        "--model", "scripted-model"]
        command = " ".join(subprocess.list2cmdline([a]) for a in argv)
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "-c", str(cwd), command, env=env)
        self.wait_for(lambda: ready in self.screen())

    def tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              env=env, timeout=10).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def history(self) -> str:
        """Everything the pane ever showed: the scrollback and the screen."""
        return self.tmux("capture-pane", "-p", "-S", "-", "-t", "t")

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def wait_for(self, check: Callable[[], object], timeout: float = 30.0) -> object:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if result := check():
                return result
            time.sleep(0.05)
        raise AssertionError("the pane never matched:\n" + self.screen())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux_factory(scripted_llm, tmp_path):
    panes: list[Tmux] = []

    def start(replies, **kwargs):
        llm = scripted_llm(replies)
        panes.append(Tmux(llm, tmp_path, **kwargs))
        return llm, panes[-1]

    yield start
    for pane in panes:
        pane.close()


FILLER = "\n".join(f"filler line {i}" for i in range(45))  # the screen is full: the prompt is on its last row
SLOW = "Paragraph one: " + " ".join(f"word_{i}" for i in range(110))


def test_narrowing_the_window_mid_stream_leaves_no_stale_lines(tmux_factory):
    llm, pane = tmux_factory([Reply(content=FILLER), Reply(content=SLOW + "\n\nThe end.", chars_per_second=120)])
    pane.send("fill", "Enter")
    pane.wait_for(lambda: "filler line 44" in pane.screen() and pane.screen().rstrip().count("tokens in") >= 1)
    pane.send("go", "Enter")
    # Several rows of the unfinished paragraph are in the live region, each nearly 100 columns wide.
    pane.wait_for(lambda: "word_60 " in pane.screen())
    pane.resize(45, 40)
    # The turn is over once its footer is drawn under the answer (the first turn's footer can still be
    # on the screen above it: waiting for any "tokens in" could look while the status line was live)
    pane.wait_for(lambda: "tokens in" in pane.screen().partition("The end.")[2], timeout=40)
    history = pane.history()
    words = re.findall(r"\bword_\d+\b", history)
    repeated = sorted({w for w in words if words.count(w) > 1}, key=lambda w: int(w[5:]))
    assert repeated == [], f"shown twice: {repeated[:10]}\n{history[-3000:]}"
    assert history.count("Paragraph one:") == 1
    assert "Ctrl-C interrupts" not in pane.screen()  # no stale status line either


# Draws the live region, then waits for a file; the draw after it still climbs as if 100 columns wide
# (its bytes were on their way when the window narrowed: a loaded machine, a slow ssh link).
RACE = """
import sys, threading, time
from pathlib import Path
from hermes_cli.repl.live import LiveRegion

def write(text):
    sys.stdout.write(text)
    sys.stdout.flush()

def wait(name):
    while not Path(name).exists():
        time.sleep(0.01)

def rows(word):
    return [" ".join(f"{word}_{i:02d}_{row}" for i in range(8)) for row in range(3)]  # 87 columns

width, content = [100], []
print("\\n".join(f"filler {i}" for i in range(45)))
region = LiveRegion(write, threading.RLock(), lambda: list(content), lambda: width[0], interval=0, tick=3600)
content[:] = [*rows("alpha"), "status one"]
region.begin()
Path("drawn").touch()
wait("narrowed")
content[:] = [*rows("beta"), "status two"]  # drawn as if still 100 columns wide
region.request(now=True)
width[0] = 45
content[:] = [*rows("gamma"), "status three"]
region.request(now=True)
region.commit("the final answer\\n")
region.end()
print("ENDED")
wait("quit")
"""


def test_a_resize_that_lands_while_a_draw_is_on_its_way_leaves_no_stale_rows(tmp_path):
    # The race behind the test above failing under load: the terminal reflowed the region before it
    # read the next draw, whose erase then climbed one row per line and left the region's top behind.
    script = tmp_path / "race.py"
    script.write_text(RACE)
    pane = Tmux(None, tmp_path, argv=[sys.executable, str(script)], ready="filler 44")
    try:
        pane.wait_for(lambda: (tmp_path / "drawn").exists() and "status one" in pane.screen())
        assert pane.screen().count("alpha_00") == 3  # the region, one row per line
        pane.resize(45, 40)
        # tmux has re-wrapped the region's 87-column rows at 45 columns
        pane.wait_for(lambda: max(map(len, pane.screen().splitlines())) <= 45
                      and "alpha_07_2" in pane.screen().replace("\n", ""))
        (tmp_path / "narrowed").touch()
        pane.wait_for(lambda: "ENDED" in pane.screen())
        history = pane.history()
        assert re.findall(r"alpha|beta|gamma|status", history) == [], history
        assert history.count("the final answer") == 1
        assert history.rstrip().splitlines()[-2:] == ["the final answer", "ENDED"]
    finally:
        (tmp_path / "quit").touch()
        pane.close()


BLOCKS = [f"Block {n} says alpha beta gamma delta epsilon zeta eta theta iota kappa lambda." for n in range(1, 6)]


def test_display_live_false_prints_whole_blocks_without_a_live_region(tmux_factory, tmp_path):
    (tmp_path / "cli-config.yaml").write_text("display:\n  live: false\n")
    llm, pane = tmux_factory([Reply(content="\n\n".join(BLOCKS), chars_per_second=90), Reply(content="second")])
    pane.send("go", "Enter")
    seen_partway = typed = False
    end = time.monotonic() + 30
    while "tokens in" not in (screen := pane.screen()) and time.monotonic() < end:
        assert "Ctrl-C interrupts" not in screen and "›" not in screen, screen  # no status or input line
        for block in BLOCKS:
            head = block.split(" says")[0] + " says"
            assert head not in screen or block in screen, f"a block shown before it was complete:\n{screen}"
        seen_partway |= BLOCKS[0] in screen and BLOCKS[-1] not in screen
        if BLOCKS[1] in screen and not typed:
            pane.send("next")  # typed during the turn: held, not written into the answer
            typed = True
        time.sleep(0.03)
    assert seen_partway, "the answer appeared only at the end, not block by block"
    screen = pane.wait_for(lambda: "❯ next" in pane.screen() and pane.screen())
    assert all(screen.count(block) == 1 for block in BLOCKS), screen
    pane.send("Enter")
    pane.wait_for(lambda: "second" in pane.screen())
    assert [m["content"] for m in llm.chat_requests[-1].body["messages"] if m["role"] == "user"] == ["go", "next"]


def test_a_bad_display_live_value_is_one_clear_line(tmp_path, scripted_llm):
    from tests.conftest import run_hermes

    (tmp_path / "cli-config.yaml").write_text("display:\n  live: sometimes\n")
    result = run_hermes("-p", "hi", "--model", "m", "--base-url", scripted_llm([]).base_url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"hermes: error: {tmp_path / 'cli-config.yaml'}:2: 'sometimes' is not "
                                          "valid for display.live; expected true or false"]
