"""Slash commands. Each is one `cmd_<name>` method; its docstring's first line is its /help text.

Adding a command means adding a method. Aliases map extra names onto methods.
"""

from __future__ import annotations

import difflib
import io
from typing import TYPE_CHECKING

import toolsets
from agent.personalities import personality_names, resolve_personality
from hermes_cli.repl.attachments import reattach_last
from hermes_cli.repl.commands_context import ContextCommands
from hermes_cli.repl.commands_media import MediaCommands
from hermes_cli.repl.commands_rewind import RewindCommands
from hermes_cli.repl.commands_sessions import SessionCommands

if TYPE_CHECKING:
    from hermes_cli.repl.app import Repl

ALIASES = {"reset": "new", "exit": "quit", "q": "quit", "h": "help", "?": "help"}
EXIT = object()  # returned by a command to end the session


class Commands(SessionCommands, RewindCommands, ContextCommands, MediaCommands):
    def __init__(self, repl: Repl) -> None:
        self.repl = repl

    # -- dispatch ----------------------------------------------------------------------------
    @classmethod
    def names(cls) -> list[str]:
        return sorted(name[4:] for name in dir(cls) if name.startswith("cmd_"))

    @classmethod
    def help_text(cls, name: str) -> str:
        doc = getattr(cls, f"cmd_{name}").__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def run(self, line: str) -> object:
        word, _, arg = line.strip().removeprefix("/").partition(" ")
        name = ALIASES.get(word.lower(), word.lower())
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None and ":" in word:  # an MCP prompt: /<server>:<prompt> args (issue 17)
            from hermes_cli.repl.ext_commands import run_prompt

            if run_prompt(self.repl, word, arg.strip()):
                return None
        if handler is None:
            close = difflib.get_close_matches(name, self.names() + list(ALIASES), n=2, cutoff=0.5)
            hint = f" Did you mean {' or '.join('/' + c for c in close)}?" if close else ""
            self.repl.renderer.warn(f"unknown command /{word}.{hint} Type /help for the list.")
            return None
        return handler(arg.strip())

    # -- help and info -----------------------------------------------------------------------
    def cmd_help(self, arg: str) -> None:
        """Show the commands"""
        aliases = {}
        for alias, target in ALIASES.items():
            aliases.setdefault(target, []).append(alias)
        rows = [[f"/{name}" + "".join(f", /{a}" for a in sorted(aliases.get(name, [])) if a.isalpha()),
                 self.help_text(name)] for name in self.names()]
        self.repl.renderer.table("Commands", ["command", "what it does"], rows)
        self.repl.renderer.info("Alt-Enter (or Esc then Enter) for a newline · Ctrl-C interrupts · Ctrl-D exits")

    def cmd_tools(self, arg: str) -> None:
        """List tools, with the reason any is unavailable"""
        from hermes_cli.listing import list_tools

        buffer = io.StringIO()
        list_tools(buffer, wait=False)
        enabled = self.repl.agent.tool_names
        self.repl.renderer.info(buffer.getvalue().rstrip() + f"\n\nthe model sees {len(enabled)} tool(s) now")

    def cmd_toolsets(self, arg: str) -> None:
        """List toolsets, or enable some: /toolsets terminal,file"""
        if not arg:
            from hermes_cli.listing import list_toolsets

            buffer = io.StringIO()
            list_toolsets(buffer, wait=False)
            current = ", ".join(self.repl.agent.enabled_toolsets)
            self.repl.renderer.info(buffer.getvalue().rstrip() + f"\n\nenabled now: {current}")
            return
        try:
            names = toolsets.parse_toolset_list(arg)
        except toolsets.UnknownToolsetError as exc:
            self.repl.renderer.warn(str(exc))
            return
        self.repl.set_toolsets(names or ["all"])
        self.repl.renderer.info(f"toolsets: {', '.join(names or ['all'])} ({len(self.repl.agent.tool_names)} tools)")

    def cmd_skills(self, arg: str) -> None:
        """List skills, or show one: /skills NAME"""
        from tools import skills_store
        from tools.skills_tool import find_skill

        renderer, catalog = self.repl.renderer, skills_store.load_catalog()
        for problem in catalog.problems:
            renderer.warn(f"skill {problem['skill']} skipped ({problem['path']}): {problem['reason']}")
        if not arg:
            rows = [[s.name, s.category, s.description + (" (user)" if s.source == "user" else "")]
                    for s in sorted(catalog.skills.values(), key=lambda s: (s.category, s.name))]
            renderer.table("Skills", ["name", "category", "description"], rows)
            renderer.info(f"{len(rows)} skill(s); /skills NAME shows one. Yours go in {skills_store.user_dir()}")
            return
        try:
            skill = find_skill(catalog, arg)
        except skills_store.SkillError as exc:
            renderer.warn(str(exc))
            return
        files = [f for group in skill.linked_files().values() for f in group]
        renderer.info(f"{skill.name} · {skill.category} · {skill.source} · {skill.path}"
                      + (f"\nfiles: {', '.join(files)}" if files else ""))
        renderer.markdown(skill.body)

    def cmd_config(self, arg: str) -> None:
        """Show the effective settings and where each came from"""
        from hermes_cli.config_view import format_config

        agent = self.repl.agent
        rows = [[key, str(value), source]
                for key, value, source in format_config(self.repl.settings, agent.endpoint, agent.model)]
        self.repl.renderer.table("Configuration", ["setting", "value", "from"], rows)

    def cmd_usage(self, arg: str) -> None:
        """Show tokens used (and cost, when the endpoint reports it)"""
        usage = self.repl.agent.usage
        parts = [f"{int(usage.get('prompt_tokens', 0)):,} in", f"{int(usage.get('completion_tokens', 0)):,} out",
                 f"{int(usage.get('total_tokens', 0)):,} total", f"{self.repl.agent.api_calls} model calls"]
        if usage.get("cost"):
            parts.append(f"${usage['cost']:.4f}")
        self.repl.renderer.info("usage this session: " + " · ".join(parts))

    def cmd_mcp(self, arg: str) -> None:
        """MCP servers: status, tools, prompts (/<server>:<prompt> args) and last error"""
        from hermes_cli.repl.ext_commands import show_mcp

        show_mcp(self.repl)

    def cmd_hooks(self, arg: str) -> None:
        """List the configured hooks"""
        from hermes_cli.repl.ext_commands import show_hooks

        show_hooks(self.repl)

    # -- model and prompt --------------------------------------------------------------------
    def cmd_model(self, arg: str) -> None:
        """Show or change the model: /model [name]"""
        agent = self.repl.agent
        if not arg:
            known = self.repl.available_models()
            listing = f"\navailable: {', '.join(known[:30])}" if known else ""
            self.repl.renderer.info(f"model: {agent.model} at {agent.endpoint.host}{listing}")
            return
        from hermes_cli.repl.model_check import unlisted_warning

        self.repl.set_model(arg)
        self.repl.renderer.info(f"model set to {arg} (from the next message)")
        if warning := unlisted_warning(arg, self.repl.available_models(wait=True)):
            self.repl.renderer.warn(warning)

    def cmd_prompt(self, arg: str) -> None:
        """Show or set the system prompt: /prompt [text] (/prompt reset for the default)"""
        if not arg:
            self.repl.renderer.info(self.repl.agent.system_prompt)
            return
        self.repl.set_system_prompt(None if arg.lower() in ("reset", "default", "none") else arg)
        self.repl.renderer.info("system prompt updated (from the next message)")

    def cmd_personality(self, arg: str) -> None:
        """Show or set the personality: /personality [name|none]"""
        custom = self.repl.settings.agent.personalities
        if not arg:
            current = self.repl.personality or "none"
            self.repl.renderer.info(f"personality: {current}\navailable: {', '.join(personality_names(custom))}, none")
            return
        try:
            resolve_personality(arg, custom)
        except KeyError:
            close = difflib.get_close_matches(arg, personality_names(custom), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            self.repl.renderer.warn(f"unknown personality '{arg}'.{hint}")
            return
        self.repl.set_personality(None if resolve_personality(arg, custom) is None else arg)
        self.repl.renderer.info(f"personality: {self.repl.personality or 'none'} (from the next message)")

    # -- conversation ------------------------------------------------------------------------
    def cmd_clear(self, arg: str) -> None:
        """Clear the screen and start a new conversation"""
        from prompt_toolkit.shortcuts import clear

        clear()
        self.cmd_new(arg)

    def cmd_new(self, arg: str) -> None:
        """Start a new conversation (new session and log)"""
        self.repl.agent.reset(new_session=True)
        self.repl.rebuild_system_prompt()  # a new session re-reads AGENTS.md & co
        self.repl.renderer.info(f"new session {self.repl.agent.session_id}")

    def cmd_undo(self, arg: str) -> None:
        """Remove the last exchange (your last message and the replies)"""
        removed = self.repl.agent.undo()
        if not removed:
            self.repl.renderer.info("nothing to undo")
            return
        self.repl.renderer.info(f"removed the last exchange ({len(removed)} messages)")

    def cmd_retry(self, arg: str) -> None:
        """Send your last message again"""
        reattach_last(self.repl)  # with its pictures
        text = self.repl.agent.retry()
        if text is None:
            self.repl.renderer.info("nothing to retry")
            return
        self.repl.run_turn(text)

    def cmd_compress(self, arg: str) -> None:
        """Summarise older messages to free context"""
        self.repl.agent.compress("requested with /compress")

    # -- switches ----------------------------------------------------------------------------
    def cmd_verbose(self, arg: str) -> None:
        """Toggle full tool arguments and output"""
        renderer = self.repl.renderer
        self.repl.set_verbose(not renderer.verbose)
        renderer.info(f"verbose {'on' if renderer.verbose else 'off'}")

    def cmd_yolo(self, arg: str) -> None:
        """Toggle running dangerous commands without asking"""
        ctx = self.repl.agent.tool_context
        self.repl.set_approval_mode("ask" if ctx.yolo else "yolo")
        self.repl.renderer.warn("yolo on: dangerous commands run without asking (the hard block list still applies)"
                                if ctx.yolo else "yolo off: dangerous commands ask first")

    def cmd_approvals(self, arg: str) -> None:
        """List the approval rules "session"/"always" stored, or remove one: /approvals remove N|all"""
        approval = self.repl.approval
        word, _, rest = arg.partition(" ")
        if word in ("remove", "rm", "delete"):
            removed = approval.remove(rest.strip())
            if not removed:
                self.repl.renderer.warn(f"no rule {rest.strip()!r}; /approvals lists them with their numbers")
            for rule in removed:
                self.repl.renderer.info(f"removed: {rule}")
            return
        if word:
            self.repl.renderer.warn("usage: /approvals (list) or /approvals remove N|RULE|all")
            return
        listed = approval.listing()
        if not listed:
            self.repl.renderer.info("no stored approvals: every dangerous command asks")
            return
        notes = {"always": "saved in config", "session": "until this session ends",
                 "legacy": "old format, allows nothing now (remove it)"}
        rows = [[str(i), rule, notes[kind]] for i, (rule, kind) in enumerate(listed, 1)]
        self.repl.renderer.table("Approvals", ["#", "rule", "kept"], rows)

    def cmd_quit(self, arg: str) -> object:
        """Exit (also Ctrl-D)"""
        return EXIT
