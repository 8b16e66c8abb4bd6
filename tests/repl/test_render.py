"""The REPL renderer: streamed markdown, reasoning, tool lines, spinner, banner, thread safety.

Output is captured through `write=`; assertions run on the text with SGR codes removed, and the
spinner tests replay the captured bytes on a tiny terminal model (\\r, \\n, erase-line).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time

import pytest

from agent.events import Notice, ReasoningDelta, Retrying, StreamReset, TextDelta, ToolEnd, ToolStart
from hermes_cli.repl.markdown_stream import MarkdownStream, TagSplitter, wrap
from hermes_cli.repl.render import Renderer, key_argument
from hermes_cli.repl.spinner import FACES

SGR = re.compile(r"\x1b\[[0-9;]*m")
FACE_CHARS = set("".join(FACES)) - set(" ()_-.,:;!?'`\"*~|/\\<>[]{}=+^%$#@&0123456789abcdefghijklmnopqrstuvwxyz")


class Capture:
    def __init__(self, tty: bool = False) -> None:
        self.parts: list[str] = []
        self.tty = tty
        self.lock = threading.Lock()

    def __call__(self, text: str) -> None:
        with self.lock:
            self.parts.append(text)

    def isatty(self) -> bool:
        return self.tty

    @property
    def raw(self) -> str:
        return "".join(self.parts)

    @property
    def text(self) -> str:
        return SGR.sub("", self.raw)

    def screen(self) -> list[str]:
        """What a terminal would show: \\r returns to column 0, ESC[2K clears the line."""
        lines, col = [""], 0
        text, i = self.text, 0
        while i < len(text):
            if text.startswith("\x1b[2K", i):
                lines[-1] = ""
                i += 4
                continue
            ch = text[i]
            if ch == "\r":
                col = 0
            elif ch == "\n":
                lines.append("")
                col = 0
            else:
                line = lines[-1].ljust(col)
                lines[-1] = line[:col] + ch + line[col + 1:]
                col += 1
            i += 1
        return lines


def make(width: int = 80, tty: bool = False, **kwargs) -> tuple[Renderer, Capture]:
    capture = Capture(tty=tty)
    return Renderer(width=width, write=capture, **kwargs), capture


def stream(renderer: Renderer, text: str, size: int = 3) -> None:
    for i in range(0, len(text), size):
        renderer.on_event(TextDelta(text[i:i + size]))


def tool(renderer: Renderer, call_id: str, name: str, arguments: dict, result: dict | str, duration: float,
         ok: bool = True) -> None:
    renderer.on_event(ToolStart(call_id, name, arguments))
    payload = result if isinstance(result, str) else json.dumps(result)
    renderer.on_event(ToolEnd(call_id, name, payload, duration, ok))


ANSWER = """## Overview

Alpha bravo charlie delta.
Echo foxtrot golf.

Steps:
- hotel india
- juliet kilo
  - lima mike

```python
def november(oscar):
    return 1
```

1. papa quebec
2. romeo sierra

Tango uniform victor.
"""
WORDS = re.findall(r"[a-z]{4,}", ANSWER.lower().replace("python", ""))


@pytest.mark.parametrize("size", [1, 2, 5, 17])
def test_streamed_markdown_prints_every_block_once(size: int) -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, ANSWER, size)
    renderer.end_turn({"status": "success"})
    text = out.text.lower()
    for word in WORDS:
        assert text.count(word) == 1, (word, out.text)
    assert "```" not in text and "##" not in text  # rendered as markdown, not echoed
    assert "def november(oscar):\n     return 1" in text  # indentation kept
    assert "•" in text  # list bullets


def test_blocks_are_released_as_they_complete() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "First paragraph here.\n\nSecond para")
    assert "First paragraph here." in out.text and "Second" not in out.text
    stream(renderer, "graph ends.\n\n```python\nx = 1\n")
    assert "Second paragraph ends." in out.text and "x = 1" not in out.text  # fence still open
    stream(renderer, "```\n")
    assert "x = 1" in out.text
    written = len(out.parts)
    renderer.end_turn({"status": "success"})
    assert out.text.count("x = 1") == 1 and out.text.count("First paragraph") == 1
    assert len(out.parts) == written + 1  # only the footer


def test_long_paragraph_is_printed_before_it_ends() -> None:
    renderer, out = make(width=40)
    renderer.start_turn()
    words = [f"w{i:03d}" for i in range(150)]
    stream(renderer, " ".join(words), size=7)  # one long line, no newline yet
    early = out.text
    assert "w000" in early and "w149" not in early
    stream(renderer, " done.\n\nNext.\n\n")
    renderer.end_turn({"status": "success"})
    text = out.text
    for word in words:
        assert text.count(word) == 1, word
    assert max(len(line) for line in text.splitlines()) <= 40


def test_paragraph_waiting_too_long_goes_out_as_plain_lines() -> None:
    now = [0.0]
    md = MarkdownStream(max_wait=1.5, clock=lambda: now[0])
    assert md.feed("Short **bold** words that wrap around at twenty cells", 20) == []
    now[0] = 2.0
    chunks = md.feed(" more", 20)
    assert chunks and all(c.kind == "plain" for c in chunks)
    printed = "\n".join(c.text for c in chunks)
    rest = "\n".join(c.text for c in md.finish(20))
    assert (printed + " " + rest).split() == "Short **bold** words that wrap around at twenty cells more".split()


def test_long_code_block_streams_line_by_line_without_rerendering() -> None:
    renderer, out = make()
    renderer._stream = MarkdownStream(max_code_lines=3)
    renderer.start_turn()
    stream(renderer, "```python\n")
    for i in range(8):
        stream(renderer, f"value_{i} = {i}\n", size=4)
        if i >= 3:
            assert f"value_{i}" in out.text  # printed before the fence closes
    stream(renderer, "```\n\nAfter.\n\n")
    renderer.end_turn({"status": "success"})
    for i in range(8):
        assert out.text.count(f"value_{i}") == 1
    assert "```" not in out.text and "After." in out.text


def test_wrap_is_stable_when_text_grows() -> None:
    text = "the quick brown fox jumps over the lazy dog " * 5
    for cut in range(1, len(text)):
        lines, rest = wrap(text[:cut], 17)
        full, _ = wrap(text, 17)
        assert lines == full[:len(lines)]
        assert all(len(line) <= 17 for line in lines)


def test_stream_reset_discards_the_unprinted_part() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "Kept paragraph.\n\nDoomed half sentence")
    renderer.on_event(StreamReset())
    renderer.on_event(Retrying(1, 6, 2.0, "HTTP 503 Service Unavailable"))
    stream(renderer, "Fresh answer.")
    renderer.end_turn({"status": "success"})
    text = out.text
    assert "Doomed" not in text
    assert "(retrying…)" in text
    assert "↻ retrying in 2.0s (attempt 2/6): HTTP 503" in text
    assert text.count("Kept paragraph.") == 1 and "Fresh answer." in text


def test_stream_reset_before_any_output_prints_no_retry_note() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "never shown")
    renderer.on_event(StreamReset())
    renderer.end_turn({"status": "success"})
    assert "never shown" not in out.text and "(retrying" not in out.text


def test_think_tags_become_reasoning() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "<think>secret plan: add numbers</think>\n\nThe answer is 42.", size=2)
    renderer.end_turn({"status": "success"})
    text = out.text
    assert "💭" in text and "secret plan: add numbers" in text
    assert "<think>" not in text and "</think>" not in text and "think>" not in text
    assert "The answer is 42." in text
    assert text.index("secret plan") < text.index("The answer")
    reasoning_line = next(line for line in out.raw.splitlines() if "secret plan" in line)
    assert "\x1b[2;3m" in reasoning_line  # dim italic


def test_reasoning_hidden_when_show_reasoning_is_false() -> None:
    renderer, out = make(show_reasoning=False)
    renderer.start_turn()
    renderer.on_event(ReasoningDelta("api reasoning text\n"))
    stream(renderer, "<think>tagged reasoning</think>Visible answer.", size=4)
    renderer.end_turn({"status": "success"})
    assert "reasoning" not in out.text and "💭" not in out.text
    assert "Visible answer." in out.text


def test_api_reasoning_streams_before_the_answer() -> None:
    renderer, out = make(width=40)
    renderer.start_turn()
    for piece in ["Let me ", "consider this carefully and at some length so that it wraps ", "around.\nSecond"]:
        renderer.on_event(ReasoningDelta(piece))
    assert "consider" in out.text  # complete lines go out while reasoning streams
    stream(renderer, "Answer.\n")
    renderer.end_turn({"status": "success"})
    text = out.text
    assert text.count("💭") == 1 and "Second" in text and text.index("Second") < text.index("Answer.")


def test_tool_calls_hidden_from_text() -> None:
    parts = TagSplitter().feed('Sure.<tool_call>{"name": "terminal"}</tool_call> done')
    assert parts == [("text", "Sure."), ("hidden", '{"name": "terminal"}'), ("text", " done")]


def test_tool_lines_show_key_argument_mark_duration_and_exit_code() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "Let me look.\n\n")
    tool(renderer, "1", "terminal", {"command": "ls -la src"}, {"output": "a", "exit_code": 0, "error": None}, 0.12)
    tool(renderer, "2", "terminal", {"command": "make test"}, {"output": "boom", "exit_code": 2, "error": None},
         3.4, ok=False)
    tool(renderer, "3", "read_file", {"path": "src/app.py", "offset": 1}, {"content": "x"}, 0.01)
    tool(renderer, "4", "terminal", {"command": "sleep 99"},
         {"output": "", "exit_code": -9, "error": "timed out", "timed_out": True}, 60.2, ok=False)
    tool(renderer, "5", "mystery_tool", {"count": 3, "label": "first string"}, {"ok": True}, 0.5)
    tool(renderer, "6", "web_search", {"query": "hermes agent"}, {"results": []}, 1.25)
    renderer.end_turn({"status": "success"})
    lines = out.text.splitlines()
    assert "  ✓ terminal  ls -la src  0.12s" in lines
    assert "  ✗ terminal  make test  3.40s  exit 2" in lines
    assert "  ✓ read_file  src/app.py  0.01s" in lines
    assert "  ✗ terminal  sleep 99  1m00s  timed out" in lines
    assert "  ✓ mystery_tool  first string  0.50s" in lines
    assert "  ✓ web_search  hermes agent  1.25s" in lines
    assert out.text.index("Let me look.") < out.text.index("ls -la src")


def test_tool_line_truncates_long_arguments_to_the_width() -> None:
    renderer, out = make(width=60)
    command = "python -c 'print(1)' && " + "echo very long command line " * 10
    tool(renderer, "1", "terminal", {"command": command + "\nsecond line"}, {"output": "", "exit_code": 1}, 0.2,
         ok=False)
    line = out.text.splitlines()[0]
    assert len(line) <= 60 and "…" in line and line.endswith("0.20s  exit 1")


def test_key_argument_choices() -> None:
    assert key_argument("patch", {"old_string": "a", "path": "f.py"}) == "f.py"
    assert key_argument("search_files", {"path": ".", "pattern": "TODO"}) == "TODO"
    assert key_argument("web_extract", {"urls": ["https://a.example", "https://b.example"]}) == \
        "https://a.example, https://b.example"
    assert key_argument("browser_click", {"ref": "@e5"}) == "@e5"
    assert key_argument("anything", {"n": 1}) == ""


def test_verbose_shows_arguments_and_clipped_output() -> None:
    renderer, out = make(verbose=True)
    output = "\n".join(f"line {i}" for i in range(100))
    tool(renderer, "1", "terminal", {"command": "seq 100", "timeout": 5}, {"output": output, "exit_code": 0}, 0.3)
    text = out.text
    assert "✓ terminal  seq 100" in text
    assert '"command": "seq 100"' in text and '"timeout": 5' in text
    assert "line 0" in text and "line 39" in text and "line 40" not in text
    assert "… 60 more lines" in text
    renderer.verbose = False
    tool(renderer, "2", "terminal", {"command": "true"}, {"output": "quiet", "exit_code": 0}, 0.1)
    assert "quiet" not in out.text


def test_notice_and_footer() -> None:
    renderer, out = make()
    renderer.start_turn()
    stream(renderer, "partial answer")
    renderer.on_event(Notice("stopped after 3 turns"))
    renderer.end_turn({"status": "max_turns", "error": "stopped after 3 turns", "session_id": "s1",
                       "usage": {"prompt_tokens": 1200, "completion_tokens": 34}})
    text = out.text
    assert text.index("partial answer") < text.index("! stopped after 3 turns")
    footer = text.splitlines()[-1]
    assert "1,200 tokens in · 34 out" in footer and "max_turns" in footer
    assert text.count("stopped after 3 turns") == 1  # not repeated in the footer
    renderer.start_turn()
    renderer.end_turn({"status": "error", "error": "endpoint down", "session_id": "s1",
                       "usage": {"prompt_tokens": 1500, "completion_tokens": 40}})
    footer = out.text.splitlines()[-1]
    assert "300 tokens in · 6 out" in footer and "error: endpoint down" in footer
    assert "\x1b[31m" in out.raw.splitlines()[-1] or "31m" in out.raw.splitlines()[-1]


def test_spinner_writes_nothing_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    for kwargs, tty, env in [({"spinner": False}, True, None), ({}, False, None), ({}, True, "1")]:
        if env:
            monkeypatch.setenv("HERMES_DISABLE_SPINNER", env)
        renderer, out = make(tty=tty, **kwargs)
        assert not renderer.spinner_enabled
        renderer.start_turn()
        time.sleep(0.25)
        assert out.parts == []
        renderer.end_turn({"status": "success"})
        assert not any(face in out.text for face in FACES)


def test_spinner_animates_and_leaves_no_residue() -> None:
    renderer, out = make(tty=True)
    assert renderer.spinner_enabled
    renderer.start_turn()

    def frames() -> list[str]:
        return [p for p in out.parts if p.startswith("\r\x1b[2K") and len(p) > 4]

    deadline = time.monotonic() + 10  # polled: a busy machine may draw the frames late, never wrong
    while len(frames()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(frames()) >= 2 and any(face in out.text for face in FACES)
    stream(renderer, "Hello there.\n\n")
    tool(renderer, "1", "terminal", {"command": "sleep 0.2"}, {"output": "", "exit_code": 0}, 0.2)
    time.sleep(0.25)  # spinner back while waiting for the model
    renderer.end_turn({"status": "success"})
    time.sleep(0.15)  # nothing more is drawn after the turn
    screen = out.screen()
    assert not (set(screen[-1]) & FACE_CHARS)
    assert not any(set(line) & FACE_CHARS for line in screen), screen
    assert "Hello there." in screen and "  ✓ terminal  sleep 0.2  0.20s" in screen


def test_paused_holds_output_and_spinner() -> None:
    renderer, out = make(tty=True)
    renderer.start_turn()
    time.sleep(0.15)
    with renderer.paused():
        written = len(out.parts)
        tool(renderer, "1", "terminal", {"command": "ls"}, {"output": "", "exit_code": 0}, 0.1)
        time.sleep(0.25)
        assert len(out.parts) == written  # nothing drawn or printed while a prompt is up
        assert out.screen()[-1] == ""  # the spinner was erased before the prompt
    assert "✓ terminal  ls" in out.text
    renderer.end_turn({"status": "success"})
    assert not (set(out.screen()[-1]) & FACE_CHARS)


def test_parallel_tool_ends_from_threads_give_intact_lines() -> None:
    renderer, out = make(tty=True)
    renderer.start_turn()
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        renderer.on_event(ToolStart(f"c{i}", "terminal", {"command": f"echo job{i}"}))
        barrier.wait()
        for _ in range(3):
            renderer.on_event(TextDelta(""))
        renderer.on_event(ToolEnd(f"c{i}", "terminal", json.dumps({"output": "", "exit_code": 0}), 0.01 * i, True))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    renderer.end_turn({"status": "success"})
    lines = [line for line in out.screen() if "✓" in line]
    assert len(lines) == 8
    for i in range(8):
        assert sum(re.fullmatch(rf"  ✓ terminal  echo job{i}  0\.\d\ds", line) is not None for line in lines) == 1


def test_banner() -> None:
    renderer, out = make(width=80)
    renderer.banner({"version": "0.3.0", "model": "anthropic/claude-sonnet-4", "endpoint": "openrouter.ai",
                     "toolsets": ["terminal", "file", "web"], "tools": 7, "session_id": "20261121_143052_a1b2c3",
                     "log_path": "/home/u/.hermes/logs/session_20261121_143052_a1b2c3.jsonl",
                     "personality": "pirate"})
    text = out.text
    for piece in ["⚕", "hermes", "0.3.0", "anthropic/claude-sonnet-4", "openrouter.ai", "terminal, file, web",
                  "7 tools", "20261121_143052_a1b2c3", "session_20261121_143052_a1b2c3.jsonl", "pirate",
                  "/help", "Ctrl-D"]:
        assert piece in text, piece
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 10
    assert all(len(line) <= 80 for line in lines)


def test_messages_tables_markdown_and_no_raw_escapes() -> None:
    renderer, out = make(color=False)
    renderer.info("first\nsecond")
    renderer.warn("careful")
    renderer.error("broken")
    renderer.table("Sessions", ["id", "turns"], [["abc", "3"], ["[red]x[/red]", "1"]])
    renderer.markdown("# Title\n\n- item one\n- item two\n")
    renderer.start_turn()
    stream(renderer, "evil \x1b[31mred\x1b]0;title\x07 text\n\n")
    renderer.end_turn({"status": "success"})
    text = out.raw
    assert "\x1b" not in text and "\x07" not in text
    assert "first\nsecond" in text and "! careful" in text and "✗ broken" in text
    assert "[red]x[/red]" in text and "abc" in text and "item two" in text
    assert "evil red text" in text


def test_default_writer_goes_through_prompt_toolkit() -> None:
    from prompt_toolkit.application.current import create_app_session
    from prompt_toolkit.output.plain_text import PlainTextOutput

    buffer = io.StringIO()
    with create_app_session(output=PlainTextOutput(buffer)):
        renderer = Renderer(width=60)
        renderer.start_turn()
        stream(renderer, "Hello **world**.\n\n")
        tool(renderer, "1", "terminal", {"command": "ls"}, {"output": "", "exit_code": 0}, 0.1)
        renderer.end_turn({"status": "success"})
    text = buffer.getvalue()
    assert "Hello world." in text and "✓ terminal  ls" in text and "\x1b" not in text
