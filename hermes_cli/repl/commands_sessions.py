"""Slash commands about the conversation's record: /history, /save, /export, /sessions, /resume.

Files these write without a path given go under $HERMES_HOME (sessions/ or exports/), never the
current directory (a checkout would collect untracked files); every one is private (0600).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from recording.private import private_dir, write_private

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl
    from recording.reader import SessionSummary

PAGE = 20  # sessions per /sessions page
MODES = {"repl": "chat", "oneshot": "one-shot", "batch": "batch", "run_agent": "script"}


def mode_label(summary: SessionSummary) -> str:
    return MODES.get(summary.mode, summary.mode)


def describe(summary: SessionSummary, width: int = 50) -> str:
    """One line for /resume completion: date · mode · turns · first prompt."""
    prompt = summary.first_prompt if len(summary.first_prompt) <= width else summary.first_prompt[:width - 1] + "…"
    turns = f"{summary.user_turns} turn{'s' if summary.user_turns != 1 else ''}"
    return f"{summary.started:%Y-%m-%d %H:%M} · {mode_label(summary)} · {turns} · {prompt}"


class SessionCommands:
    repl: Repl

    def cmd_history(self, arg: str) -> None:
        """Show the conversation so far"""
        from hermes_cli.repl.transcript import history_blocks

        agent = self.repl.agent
        if not agent.messages:
            self.repl.renderer.info("no messages yet")
            return
        # What the user typed is shown verbatim (its newlines kept); the rest renders as markdown.
        for kind, text in history_blocks(agent.messages, session_id=agent.session_id, model=agent.model or ""):
            if kind == "you":
                self.repl.renderer.markdown("## You")
                self.repl.renderer.info(text)
            else:
                self.repl.renderer.markdown(text)

    def cmd_save(self, arg: str) -> None:
        """Save the conversation as markdown: /save [file] (default: $HERMES_HOME/sessions/)"""
        from hermes_cli.repl.transcript import to_markdown

        agent = self.repl.agent
        if arg:
            path = Path(os.path.expanduser(arg)).resolve()
        else:
            path = self.repl.settings.home / "sessions" / f"hermes_{agent.session_id}.md"
        try:
            private_dir(path.parent)
            write_private(path, to_markdown(agent.messages, session_id=agent.session_id, model=agent.model or "",
                                            clip=False))
        except OSError as exc:
            self.repl.renderer.error(f"could not save to {path}: {exc.strerror or exc}")
            return
        self.repl.renderer.info(f"saved {len(agent.messages)} messages to {path}")

    def cmd_export(self, arg: str) -> None:
        """Export this session: /export [sharegpt|openai|atif|rollout] [file] (default: $HERMES_HOME/exports/)"""
        self.repl.export(arg)

    def cmd_sessions(self, arg: str) -> None:
        """List recent chats: /sessions [page]; one-shot and batch runs: /sessions runs [page]"""
        from recording.reader import all_sessions

        words = arg.split()
        runs = bool(words) and words[0] in ("runs", "run", "oneshot", "one-shot", "-p")
        if runs:
            words = words[1:]
        if words and not (words[0].isdigit() and int(words[0]) > 0):
            self.repl.renderer.warn("usage: /sessions [page] (chats) or /sessions runs [page] (one-shot and batch)")
            return
        page = int(words[0]) if words else 1
        everything = all_sessions(self.repl.log_dir)
        chosen = [s for s in everything if s.is_chat != runs]
        others = len(everything) - len(chosen)
        what, command = ("one-shot and batch runs", "/sessions runs") if runs else ("chats", "/sessions")
        if not chosen:
            self.repl.renderer.info(f"no {what} in {self.repl.log_dir}")
        else:
            first = (page - 1) * PAGE
            if first >= len(chosen):
                pages = -(-len(chosen) // PAGE)
                self.repl.renderer.warn(f"there {'is' if pages == 1 else 'are'} {pages} page(s) of {what}")
                return
            shown = chosen[first:first + PAGE]
            rows = [[s.session_id, f"{s.started:%Y-%m-%d %H:%M}", mode_label(s), str(s.user_turns), s.first_prompt[:60]]
                    for s in shown]
            title = "One-shot and batch runs" if runs else "Chats"
            self.repl.renderer.table(title, ["id", "date", "mode", "turns", "first prompt"], rows)
            last = first + len(shown)
            more = f", {command} {page + 1} for more" if last < len(chosen) else ""
            self.repl.renderer.info(f"showing {first + 1}–{last} of {len(chosen)} {what}{more}"
                                    " · /resume ID resumes one (a unique prefix is enough)")
        if others:
            other = ("chats: /sessions" if runs else "one-shot and batch runs: /sessions runs")
            self.repl.renderer.info(f"{others} {other}")

    def cmd_resume(self, arg: str) -> None:
        """Resume a session: /resume ID (latest if no id; Tab lists them with date and first prompt)"""
        from recording.reader import find_session, session_logs

        try:
            if arg:
                path = find_session(self.repl.log_dir, arg.split()[0])
            else:
                logs = [p for p in session_logs(self.repl.log_dir) if p.stem != f"session_{self.repl.agent.session_id}"]
                if not logs:
                    raise ValueError("no earlier session to resume")
                path = logs[0]
        except ValueError as exc:
            self.repl.renderer.warn(str(exc))
            return
        self.repl.resume(path)
