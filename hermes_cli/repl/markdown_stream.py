"""Cutting a streamed markdown answer into blocks that can each be rendered exactly once.

Pure text logic, no output and no rich: the renderer feeds text deltas in and prints the chunks
that come out. A block is released when it is complete (a paragraph at the blank line after it, a
list item when the next item or block starts, a heading at its newline, a fenced code block at its
closing fence) and never again. Two latency rules keep a long block from waiting forever:

- a paragraph that grows past `max_lines` display lines, or has been waiting `max_wait` seconds,
  switches to plain mode: its complete *display* lines (greedy word wrap at the current width,
  which later text cannot change) are released as they fill, the rest when the paragraph ends;
- a fenced code block past `max_code_lines` lines or `max_wait` seconds is released line by line
  (each chunk carries the whole code so far, so highlighting keeps its context).

Also here: `TagSplitter`, which takes `<think>…</think>` (reasoning) and `<tool_call>…</tool_call>`
(shown as tool lines instead) out of the answer text, tags split across deltas included.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(\s+|$)")
HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")
# The start of a line that may still become something other than paragraph text.
CODE_CONTEXT = 60  # lines of already-printed code re-highlighted for context with the next ones
_NOT_YET_TEXT = re.compile(r"^\s*(?:[-*+>#|=_~`]|\d{1,9}[.)]?)")


class Chunk:
    """One piece of output. (A plain class: dataclasses would double this module's import time.)

    kind: "md" (render `text` as markdown), "plain" (one wrapped line per line) or "code" (print
    lines start+1 … end of `text`, which is the whole code so far so highlighting keeps context);
    block: para, list, heading, code, quote, table or other; cont: continues a block already partly
    printed (no blank line before it).
    """

    __slots__ = ("kind", "block", "text", "lang", "start", "cont")

    def __init__(self, kind: str, block: str, text: str, lang: str = "", start: int = 0, cont: bool = False) -> None:
        self.kind, self.block, self.text, self.lang, self.start, self.cont = kind, block, text, lang, start, cont

    def __repr__(self) -> str:
        return f"Chunk({self.kind!r}, {self.block!r}, {self.text!r}, start={self.start}, cont={self.cont})"


def cell_len(text: str) -> int:
    if text.isascii() and text.isprintable():  # the common case, without rich's per-character table
        return len(text)
    from rich.cells import cell_len as _cell_len

    return _cell_len(text)


def wrap(text: str, width: int) -> tuple[list[str], str]:
    """Greedy word wrap: (complete lines, rest). Appending to `text` never changes the complete lines."""
    width = max(width, 8)
    if len(text) <= width and text.isascii() and text.isprintable():  # fits: called per streamed token
        return [], text.lstrip()
    lines: list[str] = []
    current = ""
    for token in re.findall(r"\S+\s*", text):
        word = token.rstrip()
        if current and cell_len(current + word) <= width:
            current += token
            continue
        if current:
            lines.append(current.rstrip())
        current = token
        while cell_len(current.rstrip()) > width:  # a word longer than the line: hard split
            cut = _fit(current, width)
            lines.append(current[:cut])
            current = current[cut:]
    return lines, current


def _fit(text: str, width: int) -> int:
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return max(i, 1)
    return len(text)


class MarkdownStream:
    def __init__(self, *, max_lines: int = 8, max_code_lines: int = 12, max_wait: float = 1.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lines, self.max_code_lines, self.max_wait = max_lines, max_code_lines, max_wait
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget everything not yet released."""
        self.partial = ""  # the incomplete last line
        self.block: list[str] = []
        self.kind = ""
        self.list_indent = 0
        self.started: float | None = None
        # paragraph plain mode
        self.plain = False
        self.plain_text = ""  # unreleased flowing text of the paragraph
        # `partial` continues a line whose start already moved into plain_text (moved text is cut
        # from `partial`, so a huge one-line paragraph is never copied again: no quadratic cost)
        self.joined = False
        # fenced code
        self.fence: tuple[int, str, int, str] | None = None  # indent, char, length, language
        self.code: list[str] = []
        self.code_streaming = False
        self.code_printed = 0
        self._first_plain = True
        self._out: list[Chunk] = []

    @property
    def pending(self) -> bool:
        return bool(self.partial.strip() or self.block or self.fence or self.plain_text.strip())

    def provisional(self, limit: int) -> tuple[str, list[str]]:
        """What is not released yet, as source lines (the last `limit` at most), shown provisionally
        until its block completes: ("code", lines) inside a fenced block, else ("text", lines)."""
        if self.fence is not None:
            indent, char, length, lang = self.fence
            lines = [] if self.code_streaming else [char * length + lang, *self.code[-limit:]]
            return "code", [*lines, self.partial][-limit:] if self.partial else lines[-limit:]
        lines = [self.plain_text] if self.plain and self.plain_text.strip() else self.block[-limit:]
        if self.partial.strip():
            lines = [*lines, self.partial]
        return "text", lines[-limit:]

    # -- input --------------------------------------------------------------------------------
    def feed(self, text: str, width: int) -> list[Chunk]:
        self.width = width
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self._line(line)
            self.joined = False
        if self.started is None and (self.block or self.fence or self.partial.strip()):
            self.started = self.clock()
        self._latency()
        return self._take()

    def finish(self, width: int) -> list[Chunk]:
        """Release everything (the end of the answer, or something else is about to be printed)."""
        self.width = width
        if self.partial:
            line, self.partial = self.partial, ""
            self._line(line)
        self.joined = False
        if self.fence is not None:
            if self.code_streaming:
                self._release_code()
            else:
                self._emit_md("code", self._dedent_code())
            self.fence, self.code, self.code_streaming = None, [], False
        self._end_block()
        chunks = self._take()
        self.reset()
        return chunks

    # -- lines --------------------------------------------------------------------------------
    def _line(self, line: str) -> None:
        if self.fence is not None:
            self._code_line(line)
            return
        if self.plain and self.joined:  # the paragraph already took the start of this line
            self._plain_add(line, joined=True)
            return
        fence = FENCE.match(line)
        if fence and not (fence[2][0] == "`" and "`" in fence[3]):
            self._end_block()
            self.fence = (len(fence[1]), fence[2][0], len(fence[2]), (fence[3].strip().split() or [""])[0])
            self.code = []
            self.started = self.clock()
            return
        if not line.strip():
            self._end_block()
            return
        if HEADING.match(line):
            self._end_block()
            self._emit_md("heading", line.strip())
            return
        item = LIST_ITEM.match(line)
        if item:
            indent = len(item[1])
            if self.plain or self.block and (self.kind != "list" or indent <= self.list_indent):
                self._end_block()
            if not self.block:
                self.kind, self.list_indent = "list", indent
            self.block.append(line)
            return
        stripped = line.lstrip()
        if self.plain:
            if not stripped.startswith(("|", ">")):
                self._plain_add(line, joined=False)
                return
            self._end_block()
        elif self.block and self.kind == "table" and not stripped.startswith("|"):
            self._end_block()
        elif self.block and self.kind == "para" and stripped.startswith("|"):
            self._end_block()
        if not self.block:
            self.kind = ("quote" if stripped.startswith(">") else "table" if stripped.startswith("|")
                         else "other" if line.startswith(("    ", "\t")) or stripped.startswith("<") else "para")
        self.block.append(line)

    def _end_block(self) -> None:
        if self.plain:
            if self.plain_text.strip():
                lines, rest = wrap(self.plain_text, self.width)
                self._emit_plain([*lines, rest.rstrip()] if rest.strip() else lines)
            self.plain, self.plain_text = False, ""
        elif self.block:
            self._emit_md(self.kind, "\n".join(self.block))
        self.block, self.kind, self.started = [], "", None

    # -- fenced code --------------------------------------------------------------------------
    def _code_line(self, line: str) -> None:
        indent, char, length, _lang = self.fence
        stripped = line.strip()
        if stripped and set(stripped) == {char} and len(stripped) >= length:
            if self.code_streaming:
                self._release_code()
            else:
                self._emit_md("code", self._dedent_code())
            self.fence, self.code, self.code_streaming, self.started = None, [], False, None
            return
        self.code.append(line.lstrip() if line[:indent].strip() else line[indent:])

    def _dedent_code(self) -> str:
        _indent, char, length, lang = self.fence
        marker = char * length
        return "\n".join([marker + lang, *self.code, marker])

    def _release_code(self) -> None:
        if len(self.code) > self.code_printed:
            context = max(0, self.code_printed - CODE_CONTEXT)  # bounded: a huge block stays linear
            self._out.append(Chunk("code", "code", "\n".join(self.code[context:]), self.fence[3],
                                   self.code_printed - context, cont=self.code_printed > 0))
            self.code_printed = len(self.code)

    # -- latency ------------------------------------------------------------------------------
    def _overdue(self) -> bool:
        return self.started is not None and self.clock() - self.started >= self.max_wait

    def _latency(self) -> None:
        if self.fence is not None:
            if not self.code_streaming and self.code and (len(self.code) >= self.max_code_lines or self._overdue()):
                self.code_streaming, self.code_printed = True, 0
            if self.code_streaming:
                self._release_code()
            return
        if not self.plain:
            if self.block and self.kind != "para":
                return
            if not self.block and (not self._partial_text() or self.partial.startswith(("    ", "\t"))):
                return
            flowing = " ".join(line.strip() for line in self.block)
            tail = self._partial_text()
            text = f"{flowing} {tail}" if tail else flowing
            lines, _rest = wrap(text, self.width)
            if not lines or (len(lines) < self.max_lines and not self._overdue()):
                return
            self.plain, self.plain_text, self.block, self.kind = True, flowing, [], "para"
            self._first_plain = True
        if self.joined or self._partial_text():
            self._plain_add(self.partial, joined=self.joined)
            self.partial, self.joined = "", True
        lines, self.plain_text = wrap(self.plain_text, self.width)
        if lines:
            self._emit_plain(lines)

    def _partial_text(self) -> str:
        """The incomplete line, when it can only be more paragraph text (else '')."""
        text = self.partial
        if len(text.strip()) < 4 or _NOT_YET_TEXT.match(text) or LIST_ITEM.match(text):
            return ""
        return text.strip()

    def _plain_add(self, text: str, *, joined: bool) -> None:
        if joined:
            self.plain_text += text
        elif text.strip():
            sep = " " if self.plain_text and not self.plain_text.endswith(" ") else ""
            self.plain_text += sep + text.lstrip()

    # -- output -------------------------------------------------------------------------------
    def _emit_md(self, block: str, text: str) -> None:
        self._out.append(Chunk("md", block, text))

    def _emit_plain(self, lines: list[str]) -> None:
        first = getattr(self, "_first_plain", True)
        self._out.append(Chunk("plain", "para", "\n".join(lines), cont=not first))
        self._first_plain = False

    def _take(self) -> list[Chunk]:
        out, self._out = self._out, []
        return out


_TAGS = {"<think>": "reasoning", "<thinking>": "reasoning", "<tool_call>": "hidden"}
_CLOSE = {"<think>": "</think>", "<thinking>": "</thinking>", "<tool_call>": "</tool_call>"}
_STRAY = ("</think>", "</thinking>")


class TagSplitter:
    """Splits answer text into ("text" | "reasoning" | "hidden", text) parts as deltas arrive."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.buffer = ""
        self.open: str | None = None  # the tag we are inside of

    def feed(self, text: str) -> list[tuple[str, str]]:
        self.buffer += text
        parts: list[tuple[str, str]] = []
        while self.buffer:
            if self.open is not None:
                close = _CLOSE[self.open]
                at = self.buffer.find(close)
                if at < 0:
                    keep = _partial_suffix(self.buffer, (close,))
                    parts.append((_TAGS[self.open], self.buffer[: len(self.buffer) - keep]))
                    self.buffer = self.buffer[len(self.buffer) - keep:]
                    break
                parts.append((_TAGS[self.open], self.buffer[:at]))
                self.buffer = self.buffer[at + len(close):]
                self.open = None
                continue
            hits = [(at, tag) for tag in (*_TAGS, *_STRAY) if (at := self.buffer.find(tag)) >= 0]
            if not hits:
                keep = _partial_suffix(self.buffer, (*_TAGS, *_STRAY))
                parts.append(("text", self.buffer[: len(self.buffer) - keep]))
                self.buffer = self.buffer[len(self.buffer) - keep:]
                break
            at, tag = min(hits)
            parts.append(("text", self.buffer[:at]))
            self.buffer = self.buffer[at + len(tag):]
            if tag in _TAGS:
                self.open = tag
        return [(kind, part) for kind, part in parts if part]

    def flush(self) -> list[tuple[str, str]]:
        kind = _TAGS[self.open] if self.open else "text"
        rest, self.buffer, self.open = self.buffer, "", None
        return [(kind, rest)] if rest else []


def _partial_suffix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is the start of one of `tags`."""
    start = text.find("<", max(0, len(text) - max(map(len, tags))))
    while start >= 0:
        suffix = text[start:]
        if any(tag.startswith(suffix) for tag in tags):
            return len(suffix)
        start = text.find("<", start + 1)
    return 0
