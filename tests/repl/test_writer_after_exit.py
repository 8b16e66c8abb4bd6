"""Lines printed as the REPL exits (the `hermes --continue` hint) while prompt_toolkit still names an
application whose event loop has closed: seen once as a traceback and exit 1 after double Ctrl-C."""

from __future__ import annotations

import asyncio

from prompt_toolkit.application import Application
from prompt_toolkit.application.current import set_app
from prompt_toolkit.output import DummyOutput

from hermes_cli.repl.render import _PromptToolkitWriter


def test_text_still_reaches_the_terminal_when_the_apps_loop_is_closed(capsys) -> None:
    app = Application(output=DummyOutput())
    loop = asyncio.new_event_loop()
    loop.close()
    app.loop = loop
    with set_app(app):
        _PromptToolkitWriter()("continue it with: hermes --continue\n")
    assert "continue it with: hermes --continue" in capsys.readouterr().out
