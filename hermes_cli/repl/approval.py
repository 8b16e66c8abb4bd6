"""Asking the user before a dangerous command runs: once / session / always / deny, one keypress.

The question ends in `[y/N/s/a]` and a ticking countdown (`approvals.timeout`, 60 s): `y` allows
once, `n` (or Enter, the default) denies, `s` for the session, `a` always; no Enter needed
(`hermes_cli.repl.keyprompt`). "session" and "always" store the narrowest rule that covers the
command (`rm -r under ./build`, or `exactly: git push -f` when there is no path to scope to; see
`tools.approval`), the question shows that rule, and "always" prints it once stored. "session"
keeps it until the REPL exits; "always" also saves it to `approvals.allowlist` in
$HERMES_HOME/config.yaml (`/approvals` lists and removes them). Entries of the old reason-only
format still load but allow nothing. File writes, other tools and re-runs outside the sandbox (a
`tools.gate.Question`) are allowed once or for the session; protected paths once only. No answer
within the timeout is a timeout (the model is told so, not that the user said no); Ctrl-C denies and
stops the turn (`tools.gate.refusal`). Parallel tool calls ask one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.gate import Answer, Question

CHOICES = {"o": "once", "once": "once", "y": "once", "yes": "once", "s": "session", "session": "session",
           "a": "always", "always": "always", "d": "deny", "deny": "deny", "n": "deny", "no": "deny",
           "timeout": "timeout", "interrupt": "interrupt"}
ALL_KEYS = {"y": "once", "n": "deny", "s": "session", "a": "always"}
ONCE_KEYS = {"y": "once", "n": "deny"}
DEFAULT_KEY = "n"  # Enter denies: the safe answer is the one a stray keypress gives


class ApprovalPrompt:
    def __init__(
        self,
        *,
        allowlist: list[str] | None = None,
        ask: Callable[..., str] | None = None,
        save_always: Callable[[list[str]], None] | None = None,
        pause: Callable[[], AbstractContextManager] | None = None,
        warn: Callable[[str], None] | None = None,
        info: Callable[[str], None] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.session_allowed: set[str] = set()
        self.allowlist: list[str] = list(allowlist or [])
        self._ask = ask or ask_one_key
        self._save_always = save_always
        self._pause = pause or nullcontext
        self._warn = warn or (lambda text: None)
        self._info = info or (lambda text: None)
        self.timeout = timeout
        self._lock = threading.Lock()

    def __call__(self, command: str, reason: str) -> Answer:
        from tools.approval import EXACT_PREFIX, Verdict, check_command
        from tools.gate import Answer, Question

        if isinstance(reason, Question):  # a file write, another tool, a re-run outside the sandbox
            return self._ask_action(command, reason)
        verdict = check_command(command)
        if not verdict.dangerous:  # asked for another reason than the classifier's: only this exact line
            verdict = Verdict("dangerous", reason, (), command)
        rules = verdict.rules
        if verdict.allowed_by([*self.session_allowed, *self.allowlist]):
            return Answer("session")
        with self._lock, self._pause():
            if verdict.allowed_by(self.session_allowed):  # approved for the session meanwhile
                return Answer("session")
            shown = ", ".join(rule.removeprefix(EXACT_PREFIX) if rule.startswith(EXACT_PREFIX) else rule
                              for rule in rules)
            scope = "this exact command" if rules[0].startswith(EXACT_PREFIX) else shown
            question = (f"⚠  {reason}:\n   {command}\n   [s]ession/[a]lways would allow: {scope}\n"
                        "   allow? y once · n no · s session · a always")
            answer = self._answer(question, ALL_KEYS)
        if answer == "session":
            self.session_allowed.update(rules)
            self._info(f"allowed for this session: {shown}")
        elif answer == "always":
            self.session_allowed.update(rules)
            self.allowlist.extend(rule for rule in rules if rule not in self.allowlist)
            self.save()
            self._info(f"always allowed, saved to approvals.allowlist (/approvals lists it): {shown}")
        return Answer(answer, ", ".join(rules) if answer in ("session", "always") else None, self.timeout)

    def _ask_action(self, subject: str, question: Question) -> Answer:
        """Once / session / deny for what the gate asks about besides dangerous commands ("always"
        counts as session: these keys are not command rules). Protected paths: once / deny only."""
        from tools.gate import Answer

        if not question.once_only and question.rule in self.session_allowed:
            return Answer("session")
        with self._lock, self._pause():
            if not question.once_only and question.rule in self.session_allowed:
                return Answer("session")
            if question.once_only:
                choices = "   asked every time (protected path)\n   allow? y once · n no"
                keys = ONCE_KEYS
            else:
                choices = (f"   [s]ession would allow: {question.rule}\n"
                           "   allow? y once · n no · s session (a: also session)")
                keys = ALL_KEYS
            answer = self._answer(f"⚠  {question}:\n   {subject}\n{choices}", keys)
        if answer in ("session", "always"):
            if question.once_only:
                answer = "once"
            else:
                answer = "session"
                self.session_allowed.add(question.rule)
                self._info(f"allowed for this session: {question.rule}")
        return Answer(answer, question.rule if answer == "session" else None, self.timeout)

    def _answer(self, question: str, keys: dict[str, str]) -> str:
        """once / session / always / deny / timeout / interrupt; an unrecognised answer denies."""
        try:
            raw = self._ask(question, self.timeout, keys=keys)
        except (KeyboardInterrupt, EOFError):
            return "interrupt"
        return CHOICES.get((raw or "").strip().lower(), "deny")

    def save(self) -> None:
        """Write the allowlist to config (after "always", or when /approvals removes a rule)."""
        if self._save_always is not None:
            try:
                self._save_always(self.allowlist)
            except OSError as exc:
                self._warn(f"could not save the approval to config: {exc}")

    def remove(self, which: str) -> list[str]:
        """Remove stored or session rules by number (as `/approvals` lists them) or exact text."""
        listed = self.listing()
        if which.isdigit() and 1 <= int(which) <= len(listed):
            targets = [listed[int(which) - 1][0]]
        elif which in ("all", "*"):
            targets = [rule for rule, _ in listed]
        else:
            targets = [rule for rule, _ in listed if rule == which]
        for rule in targets:
            self.session_allowed.discard(rule)
            if rule in self.allowlist:
                self.allowlist.remove(rule)
        if any(rule for rule, kind in listed if rule in targets and kind != "session"):
            self.save()
        return targets

    def listing(self) -> list[tuple[str, str]]:
        """(rule, kind) for every rule: kind is "always", "legacy" (old format, allows nothing) or "session"."""
        from tools.approval import parse_rule

        out = [(rule, "always" if parse_rule(rule) else "legacy") for rule in self.allowlist]
        out += [(rule, "session") for rule in sorted(self.session_allowed) if rule not in self.allowlist]
        return out


def ask_one_key(question: str, timeout: float, *, keys: dict[str, str] = ALL_KEYS) -> str:
    """The approval question: one keypress, Enter = no, a countdown (`keyprompt.ask_key`)."""
    from hermes_cli.repl.keyprompt import ask_key

    return ask_key(question, keys, DEFAULT_KEY, timeout)


def ask_with_prompt_toolkit(question: str, timeout: float, *, password: bool = False) -> str:
    """One line of input (hidden with `password`); an empty answer after `timeout` seconds."""
    from prompt_toolkit import PromptSession

    session: PromptSession[str] = PromptSession()

    def expire() -> None:  # exit() must run on the app's own event loop
        app = session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(lambda: None if app.future is None or app.future.done() else app.exit(result=""))

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        return session.prompt(question, is_password=password) or ""
    finally:
        timer.cancel()


SUDO_TIMEOUT = 45.0


class SudoPrompt:
    """Asks for the sudo password when a command needs it and SUDO_PASSWORD is not set."""

    def __init__(self, *, ask: Callable[..., str] | None = None,
                 pause: Callable[[], AbstractContextManager] | None = None, timeout: float = SUDO_TIMEOUT) -> None:
        self._ask = ask or ask_with_prompt_toolkit
        self._pause = pause or nullcontext
        self.timeout = timeout

    def __call__(self) -> str | None:
        with self._pause():
            try:
                answer = self._ask(f"🔒 sudo password (kept in memory for this session; Enter or "
                                   f"{self.timeout:g} s to skip): ", self.timeout, password=True)
            except (KeyboardInterrupt, EOFError):
                return None
        return answer or None
