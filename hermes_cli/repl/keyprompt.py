"""A question answered by one keypress, with a countdown: the REPL's approval prompt.

    ask_key("⚠  recursive delete ...\n   allow?", {"y": "once", "n": "deny"}, default="n", timeout=60)

The last line shows the keys with the default in capitals (`[y/N/s/a]`) and the seconds left,
ticking. A listed key answers at once (no Enter); Enter takes the default; Ctrl-C answers
"interrupt", Ctrl-D "deny", and no answer within `timeout` seconds "timeout". Other keys are
ignored, and so are keys typed before the question appeared. Once answered, the line says what
was chosen, so the scrollback stays true.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

TIMEOUT, INTERRUPT = "timeout", "interrupt"
TICK = 0.25  # redraw interval: the countdown shows whole seconds, this keeps it on time

SAID = {"once": "yes, once", "session": "yes, for this session", "always": "yes, always", "deny": "no",
        TIMEOUT: "no answer in time: not run (timed out)", INTERRUPT: "Ctrl-C: not run, stopping the turn"}


def key_hint(choices: Mapping[str, str], default: str) -> str:
    """`[y/N/s/a]`: the keys in order, the default in capitals."""
    return "[" + "/".join(k.upper() if k == default else k for k in choices) + "]"


def ask_key(question: str, choices: Mapping[str, str], default: str, timeout: float) -> str:
    """The answer for the key pressed (a value of `choices`), or "timeout" / "interrupt"."""
    import asyncio

    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import FormattedText
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    deadline = time.monotonic() + timeout
    chosen: list[str] = []
    hint = key_hint(choices, default)

    def finish(event: object, answer: str) -> None:
        if not chosen:
            chosen.append(answer)
            event.app.exit(result=answer)  # type: ignore[attr-defined]

    def text() -> FormattedText:
        if chosen:
            tail = [("", f"{hint} "), ("bold" if chosen[0] in ("once", "session", "always") else "fg:ansiyellow",
                                      f"→ {SAID.get(chosen[0], chosen[0])}")]
        else:
            left = max(0, math.ceil(deadline - time.monotonic()))
            tail = [("bold", f"{hint} "), ("fg:ansiyellow", f"{left}s "), ("fg:ansibrightblack", "(Enter = "
                    f"{SAID[choices[default]]}) ")]
        return FormattedText([("", question + " "), *tail])

    bindings = KeyBindings()
    for key, answer in choices.items():
        for variant in {key, key.upper()}:
            bindings.add(variant)(lambda event, answer=answer: finish(event, answer))
    bindings.add("enter")(lambda event: finish(event, choices[default]))
    bindings.add("c-c")(lambda event: finish(event, INTERRUPT))
    bindings.add("c-d")(lambda event: finish(event, "deny"))
    bindings.add("<any>")(lambda event: None)  # anything else: still waiting

    control = FormattedTextControl(text, show_cursor=False)
    app: Application[str] = Application(layout=Layout(Window(control, dont_extend_height=True, wrap_lines=True)),
                                        key_bindings=bindings, refresh_interval=TICK, full_screen=False)

    def expire() -> None:
        if not chosen:
            chosen.append(TIMEOUT)
            app.exit(result=TIMEOUT)

    def arm() -> None:  # on the app's own event loop, once it runs
        asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()), expire)

    drop_typed_ahead()
    try:
        return app.run(pre_run=arm, handle_sigint=False) or "deny"
    except (KeyboardInterrupt, EOFError):
        return INTERRUPT


def drop_typed_ahead() -> None:
    """Discard keys typed before the question was shown: a "y" meant for the next message must
    not approve a command the user has not read yet."""
    import sys
    import termios

    try:
        if sys.stdin.isatty():
            termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (OSError, ValueError, termios.error):
        pass
