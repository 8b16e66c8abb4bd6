"""The interactive session: a prompt_toolkit prompt, the agent, slash commands, approvals.

The prompt appears before the openai SDK is imported (a background thread loads it and asks the
endpoint for its models, for /model completion). Agent turns run in the main thread so Ctrl-C
arrives as KeyboardInterrupt, which the loop turns into an interrupted, consistent history.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import toolsets
from agent.endpoint import resolve_endpoint
from agent.images import starts_with_path
from agent.personalities import NONE_NAMES, personality_names, resolve_personality
from agent.prompts import build_system_prompt
from hermes_cli import agent_factory
from hermes_cli.repl import typeahead
from hermes_cli.repl.approval import ApprovalPrompt, SudoPrompt
from hermes_cli.repl.attachments import Attachments
from hermes_cli.repl.attachments import prepare as prepare_message
from hermes_cli.repl.commands import EXIT, Commands
from hermes_cli.repl.render import Renderer

DOUBLE_CTRL_C = 2.0  # seconds within which a second Ctrl-C on an empty line exits


class Repl:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # Invalid settings raise ConfigError before anything is drawn: the REPL refuses to start
        # (one line per problem, exit 2), exactly as `hermes -p` does.
        self.settings = settings = agent_factory.load_settings(args)
        self.endpoint = resolve_endpoint(settings)
        self.renderer = Renderer(spinner=settings.display.spinner)
        for warning in settings.warnings:
            self.renderer.warn(warning)
        self.renderer.show_reasoning = settings.display.show_reasoning
        self.renderer.verbose = settings.display.verbose
        self.typeahead = typeahead.attach(self.renderer, live=settings.display.live)  # held input on a terminal
        self.approval = ApprovalPrompt(
            allowlist=list(settings.approvals.allowlist),
            save_always=self._save_allowlist,
            pause=self.renderer.paused,
            warn=self.renderer.warn,
            info=self.renderer.info,
            timeout=settings.approvals.timeout,
        )
        self.log_dir = settings.log_dir
        self.commands = Commands(self)
        self.attachments = Attachments(agent_factory.load_images(getattr(args, "image", None) or []))  # /image, pasted paths
        self._models: list[str] = []
        self._warm_thread: threading.Thread | None = None
        self._banner_shown, self._recap = False, ""
        self.agent = self._make_agent(resume=agent_factory.resolve_resume(args, self.log_dir))

    # -- set-up ------------------------------------------------------------------------------
    @property
    def personality(self) -> str | None:
        name = self.settings.agent.personality
        return None if name is None or name.lower() in NONE_NAMES else name

    def _make_agent(self, resume: Path | None = None) -> Any:
        agent = agent_factory.make_agent(self.settings, endpoint=self.endpoint, mode="repl",
                                         on_event=self.renderer.on_event, approve=self.approval, resume=resume,
                                         ephemeral_system_prompt=self.args.ephemeral_system_prompt)
        if self.settings.model.default:  # /model may have changed it since start-up
            agent.set_model(self.settings.model.default)
        agent.tool_context.extra["ask_sudo_password"] = SudoPrompt(pause=self.renderer.paused)
        from hermes_cli.repl.wording import repl_filter
        from recording.redact import Redactor

        # an endpoint error may echo the key; CLI advice (--model, --list-toolsets) becomes /commands
        self.renderer.redact = repl_filter(Redactor([agent.endpoint.api_key]))
        if resume is not None:
            from hermes_cli.repl.resume_view import restore_usage, resumed_text

            restore_usage(agent, resume)
            self.renderer.usage_from(agent.session_id, agent.usage)
            # --continue: shown under the banner (run() prints it); /resume: now
            self._recap = resumed_text(agent)
            if self._banner_shown:
                self.renderer.info(self._recap)
        return agent

    def _save_allowlist(self, allowlist: list[str]) -> None:
        from agent.config import save_config_value

        save_config_value("approvals.allowlist", allowlist, self.settings.home / "config.yaml")
        self.settings.set("approvals.allowlist", list(allowlist), "/approve always")

    def _warm_up(self) -> None:
        """Import the SDK and fetch the model list while the user types the first message."""
        from agent import llm

        try:
            self.agent.ensure_client()
            self._models = llm.list_models(self.agent.client)
        except Exception:  # completion just has no model names; the first turn reports real errors
            pass
        self.renderer.warm_up()

    # -- state the commands change -------------------------------------------------------------
    def available_models(self, wait: bool = False) -> list[str]:
        """The endpoint's models (fetched at start-up); `wait`: give the fetch a moment to finish."""
        if wait and self._warm_thread is not None:
            self._warm_thread.join(timeout=5)
        return self._models

    def personality_choices(self) -> list[str]:
        return [*personality_names(self.settings.agent.personalities), "none"]

    def toolset_choices(self) -> list[str]:
        return [*toolsets.get_toolset_names(), "all"]

    def set_model(self, name: str) -> None:
        self.settings.set("model.default", name, "/model")
        self.agent.set_model(name)

    def set_toolsets(self, names: list[str]) -> None:
        self.settings.set("toolsets", list(names), "/toolsets")
        self.agent.set_toolsets(names, self.settings.disabled_toolsets or None)
        self.rebuild_system_prompt()

    def set_personality(self, name: str | None) -> None:
        self.settings.set("agent.personality", name, "/personality")
        self.rebuild_system_prompt()

    def set_system_prompt(self, text: str | None) -> None:
        self.settings.set("agent.system_prompt", text, "/prompt")
        self.rebuild_system_prompt()

    def set_verbose(self, on: bool) -> None:
        self.settings.set("display.verbose", on, "/verbose")
        self.renderer.verbose = on

    def set_approval_mode(self, mode: str) -> None:
        if mode == "yolo" and self.settings.approvals.mode != "yolo":
            self._mode_before_yolo = self.settings.approvals.mode  # /yolo again goes back to it
        elif mode != "yolo":
            mode = getattr(self, "_mode_before_yolo", mode)
        self.settings.set("approvals.mode", mode, "/yolo")
        ctx = self.agent.tool_context
        ctx.approval_mode, ctx.yolo = mode, mode == "yolo"

    def rebuild_system_prompt(self) -> None:
        """Also re-reads the project context files (AGENTS.md & co), as a new session would."""
        from agent import context_files

        agent = self.settings.agent
        self.agent.project_context = context_files.load_for(self.settings, "repl", self.renderer.on_event)
        self.agent.system_prompt = build_system_prompt(
            agent.system_prompt, resolve_personality(self.personality, agent.personalities),
            with_tools=bool(self.agent.tools), cwd=self.settings.terminal.cwd,
            context=self.agent.project_context.prompt_section(),
        )

    def resume(self, path: Path) -> None:
        from agent.errors import HermesError
        from recording.reader import session_id_of
        from recording.session_lock import lock_session

        try:  # before closing this session: one in use by another process leaves us where we were
            lock_session(path, session_id_of(path))
        except HermesError as exc:
            self.renderer.warn(str(exc))
            return
        self.agent.close()
        self.agent = self._make_agent(resume=path)

    def export(self, arg: str) -> None:
        from hermes_cli.export_cmd import main as export_main

        fmt, _, output = arg.partition(" ")
        fmt = fmt or "sharegpt"
        output = output.strip() or str(self.settings.home / "exports" / f"hermes_{self.agent.session_id}.{fmt}.jsonl")
        self.agent.flush()
        paths = self.agent.session_paths
        if paths is None:
            self.renderer.warn("nothing recorded yet in this session")
            return
        from agent.errors import HermesError

        try:
            code = export_main([str(paths[0]), "--format", fmt, "--output", output])
        except SystemExit as exc:  # a bad format: argparse has said why; the session goes on
            code = exc.code
        except HermesError as exc:  # ConfigError included: one line, the session goes on
            self.renderer.error(f"export: {exc}")
            return
        if code == 0:
            self.renderer.info(f"exported this session as {fmt} to {Path(output).resolve()}")
        else:
            self.renderer.error(f"export failed (exit {code})")

    # -- the loop ----------------------------------------------------------------------------
    def banner(self) -> None:
        from hermes_cli import __version__

        agent = self.agent
        self.renderer.banner({
            "version": __version__, "model": agent.model or "(asked from the endpoint)",
            "endpoint": agent.endpoint.host, "toolsets": agent.enabled_toolsets, "tools": len(agent.tool_names),
            "session_id": agent.session_id, "log_path": str(self.log_dir / f"session_{agent.session_id}.jsonl"),
            "personality": self.personality, "safety": agent_factory.safety_line(agent),
        })
        self._banner_shown = True
        if self._recap:
            self.renderer.info(self._recap)

    def run_turn(self, text: str) -> None:
        from hermes_cli.repl.tty_echo import no_control_echo

        if (message := prepare_message(self, text)) is None:
            return
        with self.typeahead.holding() if self.typeahead else contextlib.nullcontext():
            self.renderer.start_turn()
            with no_control_echo():  # a Ctrl-C's `^C` is written by end_turn, on its own line
                try:
                    result = self.agent.run_conversation(message[0], conversation_history=self.agent.messages,
                                                         images=message[1])
                except KeyboardInterrupt:  # landed between the loop's own handlers
                    self.agent.interrupt()
                    result = {"status": "interrupted", "error": "interrupted by user", "final_response": None,
                              "usage": dict(self.agent.usage)}
            self.renderer.end_turn(result)
        if self.typeahead and (result or {}).get("status") == "interrupted":
            self.typeahead.unsend()  # typed ahead, then Ctrl-C: back in the prompt, not sent

    def handle(self, text: str) -> object:
        """One line from the prompt: a slash command or a message for the agent."""
        if not text.strip():
            return None
        if text.lstrip().startswith("/") and not starts_with_path(text):  # a dragged-in file is a message
            return self.commands.run(text)
        from agent.mentions import expand_for

        self.run_turn(expand_for(self.settings, text, self.renderer.warn))  # @path attaches the file
        return None

    def _shut_down(self) -> None:
        """Close the session; a Ctrl-C now must not leave the log half-written or print a traceback."""
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.agent.close()
        try:
            from hermes_cli.repl.resume_view import exit_lines

            self.renderer.close_live()
            self.renderer.info(exit_lines(self.agent, self.log_dir))
        except OSError:  # the terminal is gone (SIGHUP)
            pass

    def _hang_up(self, signum: int, frame: object) -> None:
        """SIGTERM, or SIGHUP (terminal closed, SSH dropped): stop the turn; `run` closes and cleans up."""
        self.agent.interrupt()  # kills the running command
        raise SystemExit(128 + signum)

    def run(self) -> int:
        import asyncio
        import signal

        from hermes_cli.repl.prompt import make_prompt_session

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._hang_up)
        self.banner()
        self._warm_thread = threading.Thread(target=self._warm_up, name="warm-up", daemon=True)
        self._warm_thread.start()
        session = make_prompt_session(self, self.settings.home / "history")
        last_ctrl_c = 0.0
        try:
            while True:
                try:
                    text = typeahead.next_input(self.typeahead, session, self.renderer)
                except EOFError:
                    break
                # A Ctrl-C that lands while prompt_toolkit is still starting its event loop (before its
                # own SIGINT handling is in place) surfaces as asyncio's CancelledError: same meaning.
                except (KeyboardInterrupt, asyncio.CancelledError):
                    now = time.monotonic()
                    if now - last_ctrl_c < DOUBLE_CTRL_C:
                        break
                    last_ctrl_c = now
                    try:
                        self.renderer.info("press Ctrl-C again to exit (or Ctrl-D)")
                    except KeyboardInterrupt:  # the second press landed while we were saying so
                        break
                    continue
                try:
                    if self.handle(text) is EXIT:
                        break
                except KeyboardInterrupt:  # Ctrl-C during a command (e.g. /compress): back to the prompt
                    self.renderer.warn("interrupted")
        finally:
            self._shut_down()
        return 0


def run_repl(args: argparse.Namespace) -> int:
    return Repl(args).run()
