"""The interactive session: a prompt_toolkit prompt, the agent, slash commands, approvals.

The prompt appears before the openai SDK is imported (a background thread loads it and asks the
endpoint for its models, for /model completion). Agent turns run in the main thread so Ctrl-C
arrives as KeyboardInterrupt, which the loop turns into an interrupted, consistent history.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import toolsets
from agent.config import Config
from agent.errors import ConfigError
from agent.personalities import personality_names, resolve_personality
from agent.prompts import build_system_prompt
from hermes_cli import agent_factory
from hermes_cli.repl.approval import ApprovalPrompt, SudoPrompt
from hermes_cli.repl.commands import EXIT, Commands
from hermes_cli.repl.render import Renderer
from recording.paths import hermes_home, log_dir

DOUBLE_CTRL_C = 2.0  # seconds within which a second Ctrl-C on an empty line exits


class Repl:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.renderer = Renderer()
        self.settings = self._load_settings(args)
        display = self.settings.config.get("display") or {}
        self.renderer.show_reasoning = bool(display.get("show_reasoning", True))
        self.renderer.verbose = bool(display.get("verbose", False))
        self.renderer.spinner_enabled = self.renderer.spinner_enabled and bool(display.get("spinner", True))
        self.personality: str | None = args.personality or self.settings.config.get("agent.personality")
        if self.personality and self.personality.lower() == "none":
            self.personality = None
        self.custom_prompt: str | None = args.system_prompt or self.settings.config.get("agent.system_prompt")
        self.approval = ApprovalPrompt(
            allowlist=self.settings.config.get("approvals.allowlist") or [],
            save_always=self._save_allowlist,
            pause=self.renderer.paused,
            warn=self.renderer.warn,
        )
        self.log_dir = log_dir()
        self.commands = Commands(self)
        self._models: list[str] = []
        self.agent = self._make_agent(resume=agent_factory.resolve_resume(args))

    # -- set-up ------------------------------------------------------------------------------
    def _load_settings(self, args: argparse.Namespace) -> agent_factory.Settings:
        try:
            return agent_factory.load_settings(args)
        except ConfigError as exc:
            # A broken config file must not lock the user out: say what is wrong, use defaults.
            self.renderer.error(f"{exc}")
            self.renderer.warn("starting with default settings; fix the file and restart to use it")
            return agent_factory.load_settings(args, config=Config())

    def _make_agent(self, resume: Path | None = None) -> Any:
        agent = agent_factory.make_agent(self.args, self.settings, mode="repl", on_event=self.renderer.on_event,
                                         approve=self.approval, resume=resume)
        agent.tool_context.extra["ask_sudo_password"] = SudoPrompt(pause=self.renderer.paused)
        if resume is not None:
            from agent.session_resume import recap

            self.renderer.info(f"resumed session {agent.session_id} ({len(agent.messages)} messages)\n"
                               + recap(agent.messages))
        return agent

    def _save_allowlist(self, allowlist: list[str]) -> None:
        from agent.config import save_config_value

        save_config_value("approvals.allowlist", allowlist)

    def _warm_up(self) -> None:
        """Import the SDK and fetch the model list while the user types the first message."""
        from agent import llm

        try:
            self.agent.ensure_client()
            self._models = llm.list_models(self.agent.client)
        except Exception:  # completion just has no model names; the first turn reports real errors
            pass

    # -- state the commands change -------------------------------------------------------------
    def available_models(self) -> list[str]:
        return self._models

    def personality_choices(self) -> list[str]:
        return [*personality_names(self.settings.config.get("agent.personalities") or {}), "none"]

    def toolset_choices(self) -> list[str]:
        return [*toolsets.get_toolset_names(), "all"]

    def session_choices(self) -> list[str]:
        from recording.reader import session_id_of, session_logs

        return [session_id_of(p) for p in session_logs(self.log_dir)[:50]]

    def set_model(self, name: str) -> None:
        self.agent.set_model(name)

    def set_toolsets(self, names: list[str]) -> None:
        self.agent.set_toolsets(names, self.settings.disabled_toolsets)
        self.rebuild_system_prompt()

    def rebuild_system_prompt(self) -> None:
        custom = self.settings.config.get("agent.personalities") or {}
        self.agent.system_prompt = build_system_prompt(
            self.custom_prompt, resolve_personality(self.personality, custom), with_tools=bool(self.agent.tools)
        )

    def resume(self, path: Path) -> None:
        self.agent.close()
        self.agent = self._make_agent(resume=path)

    def export(self, arg: str) -> None:
        from cli import main as hermes_main

        fmt, _, output = arg.partition(" ")
        fmt = fmt or "sharegpt"
        output = output.strip() or f"hermes_{self.agent.session_id}.{fmt}.jsonl"
        self.agent.flush()
        paths = self.agent.session_paths
        if paths is None:
            self.renderer.warn("nothing recorded yet in this session")
            return
        try:
            code = hermes_main(["export", str(paths[0]), "--format", fmt, "--output", output])
        except SystemExit as exc:  # a bad format: argparse has said why; the session goes on
            code = exc.code
        if code == 0:
            self.renderer.info(f"exported this session as {fmt} to {Path(output).resolve()}")
        else:
            self.renderer.error(f"export failed (exit {code})")

    # -- the loop ----------------------------------------------------------------------------
    def banner(self) -> None:
        from cli import __version__

        agent = self.agent
        self.renderer.banner({
            "version": __version__, "model": agent.model or "(asked from the endpoint)",
            "endpoint": agent.endpoint.host, "toolsets": agent.enabled_toolsets, "tools": len(agent.tool_names),
            "session_id": agent.session_id, "log_path": str(self.log_dir / f"session_{agent.session_id}.jsonl"),
            "personality": self.personality, "safety": agent_factory.safety_line(agent),
        })

    def run_turn(self, text: str) -> None:
        self.renderer.start_turn()
        try:
            result = self.agent.run_conversation(text, conversation_history=self.agent.messages)
        except KeyboardInterrupt:  # landed between the loop's own handlers
            self.agent.interrupt()
            result = {"status": "interrupted", "error": "interrupted by user", "final_response": None,
                      "usage": dict(self.agent.usage)}
        self.renderer.end_turn(result)

    def handle(self, text: str) -> object:
        """One line from the prompt: a slash command or a message for the agent."""
        if not text.strip():
            return None
        if text.lstrip().startswith("/"):
            return self.commands.run(text)
        self.run_turn(text)
        return None

    def _shut_down(self) -> None:
        """Close the session; a Ctrl-C now must not leave the log half-written or print a traceback."""
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.agent.close()
        self.renderer.info(f"session saved: {self.log_dir / f'session_{self.agent.session_id}.jsonl'}")

    def run(self) -> int:
        from hermes_cli.repl.prompt import make_prompt_session

        self.banner()
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()
        session = make_prompt_session(self, hermes_home() / "history")
        last_ctrl_c = 0.0
        try:
            while True:
                try:
                    text = session.prompt()
                except EOFError:
                    break
                except KeyboardInterrupt:
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
