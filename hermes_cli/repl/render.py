"""Everything the interactive session prints: banner, streamed answer, reasoning, tool lines, spinner.

Output is rendered with rich into ANSI text and written through prompt_toolkit
(`print_formatted_text(ANSI(...))`), which keeps escape codes from leaking and prints above an
active prompt. One re-entrant lock covers all state and all writes: agent events arrive from tool
worker threads, and the spinner draws from its own thread.

Import cost is kept near zero: rich and prompt_toolkit are imported at first use.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hermes_cli import todo_view
from hermes_cli.repl.live_view import LiveView
from hermes_cli.repl.markdown_stream import Chunk, MarkdownStream, TagSplitter, cell_len, wrap
from hermes_cli.repl.spinner import Spinner
from hermes_cli.repl.text import (
    EscapeFilter,
    clean_ansi,
    clean_text,
    failure_reason,
    format_duration,
    key_argument,
    one_line,
    truncate,
)
from hermes_cli.repl.tool_display import DIFF_LINES, diff_text, edit_diff, verbose_body

ERASE = "\r\x1b[2K"  # carriage return + clear the whole line
HINT = "/help for commands · Alt-Enter for a newline · Ctrl-C to interrupt · Ctrl-D to exit"
SHORT_HINT = "/help · Alt-Enter newline · Ctrl-C interrupt · Ctrl-D exit"

class _PromptToolkitWriter:
    """Writes ANSI text through prompt_toolkit; control sequences go out as zero-width escapes."""

    def __call__(self, text: str) -> None:
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.formatted_text import ANSI

        try:
            print_formatted_text(ANSI(text.replace(ERASE, "\001" + ERASE + "\002")), end="")
        except RuntimeError:  # the prompt's event loop closed under us (exit by double Ctrl-C): no app to print through
            sys.stdout.write(text)
            sys.stdout.flush()

    def isatty(self) -> bool:
        try:
            return sys.stdout.isatty()
        except (AttributeError, ValueError):
            return False


class Renderer(LiveView):
    code_theme = "ansi_dark"  # terminal palette colours, no background box

    def __init__(self, *, width: int | None = None, show_reasoning: bool = True, verbose: bool = False,
                 spinner: bool | str = True, color: bool = True, write: Callable[[str], None] | None = None) -> None:
        self.width = width
        self.show_reasoning = show_reasoning
        self.redact: Callable[[str], str] = lambda text: text  # set once the endpoint key is known
        self.verbose = verbose
        if write is None:
            write = _PromptToolkitWriter()
            color = color and not os.environ.get("NO_COLOR")
        self.color = color
        self._write_fn = write
        isatty = getattr(write, "isatty", None)
        self._tty = bool(isatty()) if callable(isatty) else False
        self._spinner_wanted = spinner not in (False, "none") and os.environ.get("HERMES_DISABLE_SPINNER", "") not in (
            "1", "true", "yes")
        self._lock = threading.RLock()
        self._spinner = Spinner(self._paint_spinner, self._lock, style=spinner if isinstance(spinner, str) else "kawaii")
        self._spinner_visible = False
        self._paused = 0
        self._held: list[str] = []
        self._console: Any = None
        self._stream = MarkdownStream()
        self._tags = TagSplitter()
        self._usage_base: tuple[str | None, float, float] = (None, 0, 0)
        self._live: Any = None  # a LiveRegion once enable_live() is called (a real terminal)
        self.typeahead: Any = None  # held input shown in the live region (hermes_cli/repl/typeahead.py)
        self._new_turn()

    # -- settings -----------------------------------------------------------------------------
    @property
    def spinner_enabled(self) -> bool:
        return self._spinner_wanted and self._tty

    @spinner_enabled.setter
    def spinner_enabled(self, value: bool) -> None:
        with self._lock:
            self._spinner_wanted = bool(value)
            if not self.spinner_enabled:
                self._hide_spinner()

    # -- public API ---------------------------------------------------------------------------
    def banner(self, info: dict[str, Any]) -> None:
        from rich import box
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        width = self._width()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        endpoint = info.get("endpoint")
        model = Text(one_line(info.get("model") or "?"), style="bold")
        if endpoint:
            model.append(f"  @ {one_line(endpoint)}", style="cyan")
        grid.add_row("model", model)
        toolsets = [one_line(t) for t in info.get("toolsets") or []]
        tools = info.get("tools")
        tools_text = Text(", ".join(toolsets) or "none")
        if tools is not None:
            tools_text.append(f"  ({tools} tool{'s' if tools != 1 else ''})", style="dim")
        grid.add_row("toolsets", tools_text)
        if info.get("personality"):
            grid.add_row("personality", Text(one_line(info["personality"]), style="magenta"))
        if info.get("safety"):
            grid.add_row("safety", Text(one_line(info["safety"])))
        grid.add_row("session", Text(one_line(info.get("session_id") or "?")))
        if info.get("log_path"):
            grid.add_row("log", Text(one_line(info["log_path"]), style="dim"))
        title = Text.assemble(("⚕ ", "bold yellow"), ("hermes", "bold"))
        if info.get("version"):
            title.append(f" v{one_line(info['version'])}", style="dim")
        panel = Panel(grid, title=title, title_align="left", box=box.ROUNDED, border_style="cyan",
                      expand=False, padding=(0, 1))
        hint = HINT if cell_len(HINT) + 1 <= width else SHORT_HINT
        self._print(self._render(Group(panel, Text(" " + hint, style="dim")), width), "info")

    def start_turn(self) -> None:
        with self._lock:
            self._new_turn()
            self._turn_started = time.monotonic()
            self._start_spinner(None)
            if self._live is not None:
                self._live.begin()

    def on_event(self, event: Any) -> None:
        handler = self._handlers.get(getattr(event, "type", ""))
        if handler is None:
            return
        with self._lock:
            if self._turn_started is None:
                self._turn_started = time.monotonic()
            handler(self, event)

    def end_turn(self, result: dict[str, Any]) -> None:
        with self._lock:
            try:
                self._flush_output()
            except Exception:  # state cut short by Ctrl-C: drop the unprinted rest rather than fail
                self._stream.reset()
                self._tags.reset()
                self._reasoning_reset()
            self._spinner.stop()
            self._hide_spinner()
            if self._live is not None:
                self._live.end()
            if (result or {}).get("status") == "interrupted":
                self._line("^C", "dim", "notice")  # after the partial answer, never glued to it
                self._mark_interrupted()
            self._footer(result or {})
            self._tools.clear()

    def usage_from(self, session_id: str, usage: dict[str, Any]) -> None:
        """Turn footers count from `usage` (a resumed session's tokens so far), not from 0."""
        self._usage_base = (session_id, float(usage.get("prompt_tokens", 0)), float(usage.get("completion_tokens", 0)))

    def info(self, text: str) -> None:
        self._message(text, "", None)

    def warn(self, text: str) -> None:
        self._message(text, "! ", "yellow")

    def error(self, text: str) -> None:
        self._message(text, "✗ ", "bold red")

    def markdown(self, text: str) -> None:
        from rich.markdown import Markdown

        self._print(self._render(Markdown(clean_text(text), code_theme=self.code_theme, hyperlinks=False)), "info")

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(one_line(title), style="bold"), title_justify="left", box=box.SIMPLE_HEAD,
                      header_style="bold cyan", show_edge=False, pad_edge=False)
        for column in columns:
            table.add_column(one_line(column), overflow="fold")
        for row in rows:
            table.add_row(*(Text(clean_text(str(cell))) for cell in row))
        self._print(self._render(table), "info")

    def pause_spinner(self) -> None:
        """Stop drawing and hold all output (used around prompts such as approvals)."""
        with self._lock:
            self._paused += 1
            self._hide_spinner()
            for part in (self._live, self.typeahead):
                if part is not None:
                    part.suspend()

    def resume_spinner(self) -> None:
        with self._lock:
            self._paused = max(0, self._paused - 1)
            for part in (self.typeahead, self._live):
                if part is not None:
                    part.resume()
            if not self._paused and self._held:
                held, self._held = "".join(self._held), []
                self._write(held)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause_spinner()
        try:
            yield
        finally:
            self.resume_spinner()

    # -- events -------------------------------------------------------------------------------
    def _on_text(self, event: Any) -> None:
        for kind, part in self._tags.feed(self._text_filter.feed(event.text)):
            if kind == "text":
                self._answer(part)
            elif kind == "reasoning":
                self._reasoning(part)

    def _on_reasoning(self, event: Any) -> None:
        self._reasoning(self._reasoning_filter.feed(event.text))

    def _on_tool_start(self, event: Any) -> None:
        self._flush_output()
        self._tools[event.call_id] = (event.name, event.arguments)
        self._tool_t0[event.call_id] = time.monotonic()
        self._printed_this_call = False
        self._rate = None
        self._start_spinner(self._tool_label(), restart=len(self._tools) == 1)

    def _on_tool_end(self, event: Any) -> None:
        self._flush_output()
        name, arguments = self._tools.pop(event.call_id, (event.name, None))
        self._tool_line(event, arguments)
        self._printed_this_call = False
        self._start_spinner(self._tool_label() if self._tools else None, restart=not self._tools)

    def _on_retrying(self, event: Any) -> None:
        self._flush_output()
        text = (f"↻ retrying in {event.delay:.1f}s (attempt {event.attempt + 1}/{event.max_attempts}): "
                f"{one_line(self.redact(str(event.error)))}")
        self._line(truncate(text, self._width() - 1), "dim", "notice")
        self._start_spinner(None)

    def _on_stream_reset(self, event: Any) -> None:
        self._stream.reset()
        self._tags.reset()
        self._text_filter, self._reasoning_filter = EscapeFilter(), EscapeFilter()
        self._reasoning_reset()
        if self._printed_this_call:
            self._line("(retrying…)", "dim", "notice")
        self._printed_this_call = False

    def _on_notice(self, event: Any) -> None:
        self._flush_output()
        self._notices.append(event.text)
        self._message(event.text, "! ", "yellow", group="notice")

    _handlers: dict[str, Callable[[Renderer, Any], None]] = {
        "text": _on_text, "reasoning": _on_reasoning, "tool_start": _on_tool_start, "tool_end": _on_tool_end,
        "retry": _on_retrying, "stream_reset": _on_stream_reset, "notice": _on_notice, "warning": _on_notice,
    }

    # -- answer text ----------------------------------------------------------------------------
    def _answer(self, text: str) -> None:
        text = clean_text(text)
        if text.strip():
            self._reasoning_flush()
            self._stop_spinner()
        self._chunks(self._stream.feed(text, self._width()))
        self._streamed(text)

    def _chunks(self, chunks: list[Chunk]) -> None:
        if not chunks:  # most tokens: the imports below cost ~0.3 s the first time
            return
        from rich.markdown import Markdown
        from rich.syntax import Syntax

        for chunk in chunks:
            if chunk.kind == "md":
                out = self._render(Markdown(chunk.text, code_theme=self.code_theme, hyperlinks=False))
            elif chunk.kind == "plain":
                out = self._render_plain(chunk)
            else:
                syntax = Syntax(chunk.text, chunk.lang or "text", theme=self.code_theme, word_wrap=True,
                                padding=(0, 1), line_range=(chunk.start + 1, None))
                out = self._render(syntax, strip_blank=False)
            if out:
                self._print(out, "text", chunk.block, cont=chunk.cont)
                self._printed_this_call = True

    def _render_plain(self, chunk: Chunk) -> str:
        from rich.text import Text

        if not chunk.cont:
            self._bold = self._code = False
        lines = []
        for line in chunk.text.split("\n"):
            text = Text(no_wrap=True, overflow="ignore")
            for part in re.split(r"(\*\*|`)", line):
                if part == "**" and not self._code:
                    self._bold = not self._bold
                elif part == "`":
                    self._code = not self._code
                elif part:
                    text.append(part, style="markdown.code" if self._code else "bold" if self._bold else "")
            lines.append(text)
        return self._render(Text("\n", no_wrap=True).join(lines), strip_blank=False)

    # -- reasoning ------------------------------------------------------------------------------
    def _reasoning(self, text: str) -> None:
        if not self.show_reasoning:
            return
        text = clean_text(text)
        if not text:
            return
        if self._stream.pending:
            self._chunks(self._stream.finish(self._width()))
        if text.strip():
            self._stop_spinner()
        self._r_buffer += text
        self._streamed(text)
        width = self._width() - 4
        while "\n" in self._r_buffer:
            line, self._r_buffer = self._r_buffer.split("\n", 1)
            if not line.strip():
                self._r_blank = self._r_started
                continue
            lines, rest = wrap(line, width)
            self._reasoning_lines([*lines, rest.rstrip()] if rest.strip() else lines)
        lines, self._r_buffer = wrap(self._r_buffer, width)
        self._reasoning_lines(lines)

    def _reasoning_lines(self, lines: list[str]) -> None:
        from rich.text import Text

        if not lines:
            return
        out = Text(no_wrap=True, overflow="ignore")
        if self._r_blank:
            out.append("\n")
            self._r_blank = False
        for line in lines:
            out.append("   " if self._r_started else "💭 ", style="dim")
            out.append(line + "\n", style="dim italic")
            self._r_started = True
        self._print(self._render(out, strip_blank=False), "reasoning")
        self._printed_this_call = True

    def _reasoning_flush(self) -> None:
        if self._r_buffer.strip():
            lines, rest = wrap(self._r_buffer, self._width() - 4)
            self._reasoning_lines([*lines, rest.rstrip()] if rest.strip() else lines)
        self._reasoning_reset()

    def _reasoning_reset(self) -> None:
        self._r_buffer, self._r_started, self._r_blank = "", False, False

    def _flush_output(self) -> None:
        """Print everything buffered: reasoning, then the answer's unfinished tail."""
        for kind, part in self._tags.flush():
            if kind == "text":
                self._answer(part)
            elif kind == "reasoning":
                self._reasoning(part)
        self._reasoning_flush()
        if self._stream.pending:
            self._chunks(self._stream.finish(self._width()))
        else:
            self._stream.reset()

    # -- tool lines ---------------------------------------------------------------------------
    def _mark_interrupted(self) -> None:
        """Calls cut short by Ctrl-C get no ToolEnd: they keep their line, marked `✗ … interrupted`."""
        from agent.events import ToolEnd
        from agent.interruption import TOOL_RESULT

        now = time.monotonic()
        for call_id, (name, arguments) in list(self._tools.items()):
            self._tool_line(ToolEnd(call_id, name, TOOL_RESULT, now - self._tool_t0.get(call_id, now), False),
                            arguments)

    def _tool_label(self) -> str:
        if len(self._tools) == 1:
            name, arguments = next(iter(self._tools.values()))
            arg = key_argument(name, arguments)
            return truncate(f"{name}  {arg}" if arg else name, max(self._width() - 32, 10))
        return f"running {len(self._tools)} tools"

    def _tool_line(self, event: Any, arguments: dict[str, Any] | None) -> None:
        from rich.text import Text

        width = self._width()
        name = one_line(event.name)
        duration = format_duration(event.duration)
        reason = "" if event.ok else failure_reason(event.result)
        fixed = 4 + cell_len(name) + 2 + 2 + len(duration) + (2 + cell_len(reason) if reason else 0)
        arg = key_argument(event.name, arguments)
        room = width - fixed - 1
        arg = truncate(arg, room) if room >= 6 else ""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("  ")
        line.append("✓" if event.ok else "✗", style="bold green" if event.ok else "bold red")
        line.append(" ")
        line.append(name, style="bold")
        if arg:
            line.append("  " + arg)
        line.append("  " + duration, style="dim")
        if reason:
            line.append("  " + reason, style="red")
        out = self._render(line)
        if (todos := todo_view.todos_of(event.name, event.result)) is not None:  # the model's task list
            out += self._render(Text("\n".join("    " + one_line(t) for t in todo_view.lines(todos)), style="cyan"))
        if self.verbose:
            out += self._verbose_panel(event.name, arguments, event.result, width)
        if event.ok and (diff := edit_diff(event.name, arguments, event.result)):
            from rich.padding import Padding

            out += self._render(Padding(diff_text(diff, None if self.verbose else DIFF_LINES), (0, 0, 0, 4)))
        self._print(out, "tool")

    def _verbose_panel(self, name: str, arguments: dict[str, Any] | None, result: str, width: int) -> str:
        """Arguments and result with real newlines and highlighted JSON (hermes_cli/repl/tool_display.py)."""
        from rich import box
        from rich.padding import Padding
        from rich.panel import Panel

        body = verbose_body(name, arguments, result, width, self.code_theme)
        panel = Panel(body, box=box.ROUNDED, border_style="dim", padding=(0, 1), expand=True)
        return self._render(Padding(panel, (0, 0, 0, 4)), width)

    # -- footer ---------------------------------------------------------------------------------
    def _footer(self, result: dict[str, Any]) -> None:
        from rich.text import Text

        parts = []
        if self._turn_started is not None:
            parts.append(format_duration(time.monotonic() - self._turn_started))
        usage = result.get("usage") or {}
        if usage:
            session = result.get("session_id", self._usage_base[0])
            prompt, completion = float(usage.get("prompt_tokens", 0)), float(usage.get("completion_tokens", 0))
            base_session, base_prompt, base_completion = self._usage_base
            if session == base_session and prompt >= base_prompt and completion >= base_completion:
                prompt, completion = prompt - base_prompt, completion - base_completion
            self._usage_base = (session, float(usage.get("prompt_tokens", 0)), float(usage.get("completion_tokens", 0)))
            parts.append(f"{int(prompt):,} tokens in · {int(completion):,} out")
        line = Text("  " + " · ".join(parts), style="dim", no_wrap=False)
        status = result.get("status", "success")
        if status and status != "success":
            line.append(" · " if parts else "", style="dim")
            line.append(str(status), style="yellow" if status == "interrupted" else "bold red")
            error = result.get("error")
            if error and status != "interrupted" and error not in self._notices:
                line.append(": " + one_line(self.redact(str(error))), style="red")
        if parts or status != "success":
            self._print(self._render(line), "footer")
        self._turn_started = None

    # -- printing -----------------------------------------------------------------------------
    def _message(self, text: str, prefix: str, style: str | None, group: str = "info") -> None:
        from rich.text import Text

        out = Text()
        lines = clean_text(self.redact(str(text))).split("\n")
        for i, line in enumerate(lines):
            if prefix:
                out.append(prefix if i == 0 else " " * len(prefix), style=style)
            out.append(line, style=style)
            if i < len(lines) - 1:
                out.append("\n")
        self._print(self._render(out), group)

    def _line(self, text: str, style: str, group: str) -> None:
        from rich.text import Text

        self._print(self._render(Text(text, style=style, no_wrap=True, overflow="ellipsis")), group)

    def _print(self, ansi: str, group: str, block: str = "", *, cont: bool = False) -> None:
        with self._lock:
            if not ansi:
                return
            last_group, last_block = self._last
            if not cont and last_group is not None and (group == "text" or last_group == "text"):
                if not (group == last_group == "text" and block == last_block == "list"):
                    ansi = "\n" + ansi
            self._last = (group, block)
            self._write(ansi)

    def _write(self, text: str) -> None:
        if self._paused:
            self._held.append(text)
            return
        if self._live is not None and self._live.active:
            self._live.commit(text)
            return
        if self._spinner_visible:
            text = ERASE + text
            self._spinner_visible = False
        self._write_fn(text)

    def _render(self, renderable: Any, width: int | None = None, *, strip_blank: bool = True) -> str:
        console = self._get_console()
        console.width = width or self._width()
        with console.capture() as capture:
            console.print(renderable)
        return clean_ansi(capture.get(), strip_blank=strip_blank)

    def _get_console(self) -> Any:
        if self._console is None:
            import io

            from rich.console import Console

            self._console = Console(
                file=io.StringIO(), force_terminal=self.color, color_system="truecolor" if self.color else None,
                no_color=not self.color, highlight=False, markup=False, emoji=False, width=self._width(),
                legacy_windows=False, force_jupyter=False, force_interactive=False, soft_wrap=False,
            )
        return self._console

    def _width(self) -> int:
        width = self.width or shutil.get_terminal_size((80, 24)).columns
        return max(width, 20)

    # -- spinner ------------------------------------------------------------------------------
    def _start_spinner(self, label: str | None, restart: bool = True) -> None:
        if self.spinner_enabled:
            self._spinner.start(label, restart_clock=restart)

    def _stop_spinner(self) -> None:
        if self._live is not None and self._live.active:  # the status line stays until the turn ends
            return
        if self._spinner.active:
            self._spinner.stop()
            self._hide_spinner()

    def _hide_spinner(self) -> None:
        if self._spinner_visible:
            self._spinner_visible = False
            self._write_fn(ERASE)

    def _paint_spinner(self, spinner: Spinner) -> None:
        if self._paused or not self.spinner_enabled or self._live is not None and self._live.active:
            return  # the live region draws the status line itself
        face, label, elapsed = spinner.text()
        width = self._width() - 1
        label = truncate(label, max(width - cell_len(face) - len(elapsed) - 3, 4))
        if self.color:
            frame = f"\x1b[36m{face}\x1b[0m \x1b[2m{label} {elapsed}\x1b[0m"
        else:
            frame = f"{face} {label} {elapsed}"
        self._write_fn(ERASE + frame)
        self._spinner_visible = True

    # -- state --------------------------------------------------------------------------------
    def _new_turn(self) -> None:
        self._stream.reset()
        self._tags.reset()
        self._text_filter, self._reasoning_filter = EscapeFilter(), EscapeFilter()
        self._reasoning_reset()
        self._tools: dict[str, tuple[str, dict[str, Any] | None]] = {}
        self._tool_t0: dict[str, float] = {}  # when each call started (for the line of an interrupted one)
        self._notices: list[str] = []
        self._printed_this_call = False
        self._last: tuple[str | None, str] = (None, "")
        self._turn_started: float | None = None
        self._bold = self._code = False
        self._rate: tuple[float, float, int] | None = None  # this stream's first/last delta time, chars
