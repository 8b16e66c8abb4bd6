"""Streaming at token granularity: the markdown stream's provisional tail, its cost on huge
paragraphs, and the live region (provisional text, status line, input line) on an emulated screen."""

from __future__ import annotations

from hermes_cli.repl.markdown_stream import MarkdownStream


def _words(n: int) -> str:
    return ("lorem ipsum dolor sit amet " * (n // 27 + 1))[:n]


def test_a_huge_one_line_paragraph_is_not_copied_per_token() -> None:
    # Before: the paragraph's unfinished line was kept whole and re-concatenated at every token
    # (1 MB took minutes). Now the part already moved into output is cut away as it goes.
    stream = MarkdownStream()
    text = _words(200_000)
    released = []
    longest = 0
    for i in range(0, len(text), 4):
        released += stream.feed(text[i:i + 4], 80)
        longest = max(longest, len(stream.partial), len(stream.plain_text))
    released += stream.finish(80)
    assert longest < 1000  # at most the first few lines, before the paragraph goes line by line
    assert " ".join(" ".join(c.text.split()) for c in released) == " ".join(text.split())


def test_provisional_tail_of_each_kind_of_block() -> None:
    stream = MarkdownStream(max_wait=float("inf"))
    stream.feed("A paragraph that is not fini", 80)
    assert stream.provisional(10) == ("text", ["A paragraph that is not fini"])
    stream.feed("shed.\n\n| a | b |\n|---|---|\n| 1 ", 80)
    kind, lines = stream.provisional(10)
    assert kind == "text" and lines == ["| a | b |", "|---|---|", "| 1 "]
    chunks = stream.feed("| 2 |\n\n```python\nx = 1\ny =", 80)
    assert [c.block for c in chunks] == ["table"]  # the table renders once it ended
    assert stream.provisional(10) == ("code", ["```python", "x = 1", "y ="])
    assert stream.provisional(2) == ("code", ["x = 1", "y ="])  # only the last rows fit
    assert [c.block for c in stream.feed(" 2\n```\n", 80)] == ["code"]
    assert stream.provisional(10) == ("text", [])


def test_key_buffer_edits_queues_and_ignores_escape_sequences() -> None:
    from hermes_cli.repl.typeahead import KeyBuffer

    keys = KeyBuffer()
    assert keys.feed("helo\x7flo wor")
    keys.feed("\x1b[")  # an arrow key split across reads
    keys.feed("Dld\x1b\rsecond line")  # ...then Alt-Enter: a newline in the held text
    assert keys.text == "hello world\nsecond line" and keys.queued == []
    keys.feed("\x17\x17")  # Ctrl-W twice: two words
    assert keys.text == "hello world\n"
    keys.feed("\x15again\r  \rlast")  # Ctrl-U clears; Enter queues; Enter on blanks does nothing
    assert keys.queued == ["again"] and keys.text == "last"
    assert not keys.feed("\x1bOP")  # F1: nothing changes


class _Terminal:
    """A pyte screen behind a tty driver that turns \\n into \\r\\n (OPOST/ONLCR)."""

    def __init__(self, columns: int = 40, lines: int = 10) -> None:
        import pyte

        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.Stream(self.screen)

    def write(self, text: str) -> None:
        self.stream.feed(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]


def test_live_region_stays_below_committed_text_and_leaves_nothing_behind() -> None:
    import threading

    from hermes_cli.repl.live import LiveRegion

    term = _Terminal()
    content = ["partial line so f", "status 1.0s"]
    region = LiveRegion(term.write, threading.RLock(), lambda: list(content), lambda: 40, interval=0)
    term.write("before\n")
    region.begin()
    assert term.lines[:3] == ["before", "partial line so f", "status 1.0s"]
    content[0] = "partial line so far, now longer"
    region.request()
    assert term.lines[:3] == ["before", "partial line so far, now longer", "status 1.0s"]
    content[0:1] = []
    region.commit("first block\nsecond line\n")
    assert term.lines[:4] == ["before", "first block", "second line", "status 1.0s"]
    region.commit("no newline: ")  # the region goes below an unfinished line, which goes on after
    region.commit("continued\n")
    assert term.lines[:5] == ["before", "first block", "second line", "no newline: continued", "status 1.0s"]
    region.suspend()
    assert term.lines[4] == ""  # a prompt gets a clean screen
    region.resume()
    region.end()
    term.write("after\n")
    assert term.lines[:6] == ["before", "first block", "second line", "no newline: continued", "after", ""]


def test_each_update_is_one_synchronized_write() -> None:
    import threading

    from hermes_cli.repl.live import CURSOR_CELL, SYNC_OFF, SYNC_ON, LiveRegion, input_lines

    writes: list[str] = []
    content = ["tail", "status"]
    region = LiveRegion(writes.append, threading.RLock(), lambda: list(content), lambda: 40, interval=0)
    region.begin()
    content[0] = "tail grows"
    region.request()
    region.request()  # nothing changed: nothing written
    region.commit("done\n")
    region.end()
    assert len(writes) == 4  # begin, the change, the commit (erase + text + region), end
    assert all(w.startswith(SYNC_ON) and w.endswith(SYNC_OFF) for w in writes)
    rows = input_lines([f"q{i}" for i in range(6)], "typing", 40, color=False)
    assert rows == ["  ↳ 4 lines queued", "  ↳ queued: q4", "  ↳ queued: q5", "› typing" + CURSOR_CELL]


def test_status_line_names_the_phase_with_elapsed_time_and_rate() -> None:
    import time

    from agent.events import TextDelta, ToolEnd, ToolStart
    from hermes_cli.repl.render import Renderer
    from hermes_cli.repl.spinner import FACES

    term = _Terminal(60, 12)

    class Tty:
        def __call__(self, text: str) -> None:
            term.write(text)

        def isatty(self) -> bool:
            return True

    renderer = Renderer(width=60, write=Tty(), color=False)
    renderer.enable_live(write=term.write)
    renderer.start_turn()
    status = renderer._live_lines()[-1]
    assert any(status.startswith(face) for face in FACES) and "0.0s · Ctrl-C interrupts" in status
    renderer.on_event(ToolStart("c1", "terminal", {"command": "make test"}))
    assert "terminal  make test" in renderer._live_lines()[-1]
    renderer.on_event(ToolEnd("c1", "terminal", '{"output": "ok", "exit_code": 0}', 0.1, True))
    renderer.on_event(TextDelta("Some words "))
    time.sleep(0.35)
    renderer.on_event(TextDelta("and more"))
    renderer._live.request(now=True)
    assert term.lines[1:3] == ["", "Some words and more"]  # below the tool line, before its line ends
    assert "writing…" in term.lines[3] and "tok/s" in term.lines[3]
    renderer.end_turn({})
    assert not any("writing…" in line for line in term.lines)


def test_a_prompt_mid_turn_gets_a_clean_screen_and_the_region_comes_back() -> None:
    from agent.events import Notice, TextDelta
    from hermes_cli.repl.render import Renderer

    term = _Terminal(60, 12)
    renderer = Renderer(width=60, write=term.write, color=False)
    renderer.enable_live(write=term.write)
    renderer.start_turn()
    renderer.on_event(TextDelta("Half a line"))
    renderer._live.request(now=True)
    assert term.lines[:2] == ["Half a line", renderer._live_lines()[-1]]
    with renderer.paused():
        assert term.lines[:2] == ["", ""]  # an approval question draws here, on a clean screen
        renderer.on_event(Notice("held until the prompt is done"))
        term.write("allow? y\n")
        assert "held until" not in "\n".join(term.lines)
    # After it: the held output (the notice first prints the unfinished text), then the status line.
    assert term.lines[:4] == ["allow? y", "Half a line", "", "! held until the prompt is done"]
    assert "Ctrl-C interrupts" in term.lines[4]
    renderer.end_turn({})


def test_a_table_shows_as_source_while_it_streams_and_as_a_table_once_it_ends() -> None:
    from agent.events import TextDelta
    from hermes_cli.repl.render import Renderer

    term = _Terminal(60, 14)
    renderer = Renderer(width=60, write=term.write, color=False)
    renderer.enable_live(write=term.write)
    renderer.start_turn()
    for piece in ["| name | size |\n", "|---|---|\n", "| alpha | 1 |\n", "| be"]:
        renderer.on_event(TextDelta(piece))
    renderer._live.request(now=True)
    assert term.lines[:4] == ["| name | size |", "|---|---|", "| alpha | 1 |", "| be"]
    renderer.on_event(TextDelta("ta | 2 |\n\nAfter."))
    renderer._live.request(now=True)
    shown = "\n".join(term.lines)
    assert "|---|" not in shown and "beta" in shown and "alpha" in shown
    assert any("─" in line or "━" in line for line in term.lines)  # drawn as a table now
    renderer.end_turn({})


def test_between_draws_the_hidden_cursor_rests_at_the_top_of_the_region():
    # So an erase is "clear from here down" whatever the terminal did since the draw: a terminal that
    # reflows moves the cursor with the text (the tmux race test shows why a row count cannot work).
    import threading

    from hermes_cli.repl.live import CURSOR_CELL, LiveRegion, input_lines

    term = _Terminal(40, 10)
    content = ["x" * 60, "status", *input_lines([], "typed", 40, color=False)]
    region = LiveRegion(term.write, threading.RLock(), lambda: list(content), lambda: 40, interval=0)
    term.write("before\n")
    region.begin()
    assert term.lines[:4] == ["before", "x" * 40, "status", "› typed"]  # cut, not wrapped onto a 2nd row
    assert (term.screen.cursor.y, term.screen.cursor.x, term.screen.cursor.hidden) == (1, 0, True)
    assert content[-1].endswith(CURSOR_CELL)  # the input line draws the cursor the user types at
    region.commit("no newline: ")
    assert (term.screen.cursor.y, term.screen.cursor.x, term.screen.cursor.hidden) == (2, 0, True)
    region.end()
    term.write("after\n")
    assert term.lines[:4] == ["before", "no newline: after", "", ""]
    assert not term.screen.cursor.hidden


def test_narrowing_a_terminal_that_cuts_lines_keeps_the_text_above():
    # xterm and the Linux console cut lines on a narrowing instead of re-wrapping them: the region is
    # erased from its top, so nothing printed above it goes (a row count would have climbed into it).
    import threading

    from hermes_cli.repl.live import LiveRegion

    term, width = _Terminal(40, 10), [40]
    content = ["y" * 39, "z" * 39, "status"]
    region = LiveRegion(term.write, threading.RLock(), lambda: list(content), lambda: width[0], interval=0)
    term.write("kept one\nkept two\n")
    region.begin()
    term.screen.resize(10, 20)
    width[0] = 20
    content[:] = ["short", "status 2"]
    region.request()
    assert term.lines[:5] == ["kept one", "kept two", "short", "status 2", ""]
    region.end()
    assert term.lines[:3] == ["kept one", "kept two", ""]
