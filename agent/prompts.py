"""The default system prompt. Kept short: every byte is paid on every request."""

from __future__ import annotations

import os
from datetime import date

DEFAULT_SYSTEM_PROMPT = (
    "You are Hermes, an AI agent working in the user's terminal. Use your tools to act rather than "
    "only advise: run commands, read and edit files, and check results before you claim them. "
    "Be concise. When the task is done, reply with the answer in plain text and no tool call."
)


def build_system_prompt(base: str | None = None, personality: str | None = None, with_tools: bool = True,
                        cwd: str | None = None, context: str = "") -> str:
    """`cwd`: where commands run (terminal.cwd); None: this process's working directory.
    `context`: the project context files' section (agent/context_files.py), sent last."""
    parts = [base if base is not None else DEFAULT_SYSTEM_PROMPT]
    if personality:
        parts.append(personality)
    if with_tools:
        parts.append(f"Working directory: {cwd or os.getcwd()}. Today is {date.today()}.")
    parts.append(context)
    return "\n\n".join(p for p in parts if p)
