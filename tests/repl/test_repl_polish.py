"""Issue 16, item 5: the smaller things a demanding user hits, each driven in the real REPL (pty)."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

import pexpect

from scripted_server import Reply
from tests.conftest import HERMES, run_hermes
from tests.repl import test_repl_pty
from tests.repl.test_repl_pty import PROMPT

repl_factory = test_repl_pty.repl_factory  # the pty REPL fixture


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_toolsets_names_unavailable_tools_apart_with_the_reason(repl_factory):
    llm, repl = repl_factory([])
    shown = repl.output_of("/toolsets")
    lines = [line.strip() for line in shown.splitlines()]
    # no web search provider is configured in tests: web_search cannot be "available"
    assert not any(re.search(r"available: .*web_search", line) and not line.startswith("unavailable")
                   for line in lines), shown
    unavailable = next(line for line in lines if line.startswith("unavailable: web_search"))
    assert "FIRECRAWL_API_KEY" in shown.split("unavailable: web_search", 1)[1].split("\n  ")[0].replace("\n", " ")
    assert unavailable
    assert "2/2 available: terminal, process" in shown
    repl.quit()


def test_list_toolsets_on_the_command_line_is_truthful_too():
    from hermes_cli.listing import toolset_lines

    lines = toolset_lines(["a", "b", "c"], {"b": "needs X", "c": "needs X"})
    assert lines == ["1/3 available: a", "unavailable: b, c (needs X)"]
    assert toolset_lines(["b"], {"b": "needs Y"})[0] == "0/1 available: none"


def test_repl_messages_name_slash_commands_not_flags(repl_factory):
    llm, repl = repl_factory([])
    shown = repl.output_of("/toolsets nosuchset")
    assert "see /toolsets" in shown and "--list-toolsets" not in shown
    repl.quit()
    from hermes_cli.repl.wording import for_repl

    said = for_repl("no model given and 127.0.0.1 lists none: pass --model or set LLM_MODEL")
    assert "/model NAME" in said and "--model" not in said and "LLM_MODEL" not in said


def test_multi_line_input_has_a_continuation_marker_and_history_keeps_its_lines(repl_factory):
    llm, repl = repl_factory([Reply(content="**bold** answer")])
    repl.child.send("first line")
    repl.child.send("\x1b\r")  # Alt-Enter: a newline in the input
    repl.child.send("second line")
    repl.child.expect("second line")
    repl.drain()
    assert re.search(r"… second line", repl.screen), repl.screen[-500:]
    repl.enter()
    repl.child.expect(PROMPT)
    shown = repl.output_of("/history")
    assert "first line\nsecond line" in shown, shown
    assert "first line second line" not in shown
    assert "bold answer" in shown and "**bold**" not in shown  # the answer is still markdown
    repl.quit()


def test_save_and_export_without_a_path_go_under_hermes_home_and_are_private(repl_factory, tmp_path, hermetic_env):
    llm, repl = repl_factory([Reply(content="an answer")], cwd=tmp_path)
    repl.say("hello")
    saved = repl.output_of("/save")
    [md] = (hermetic_env / "sessions").glob("hermes_*.md")
    assert str(md) in saved.replace("\n", "") and "an answer" in md.read_text(encoding="utf-8")
    exported = repl.output_of("/export")
    [jsonl] = (hermetic_env / "exports").glob("hermes_*.sharegpt.jsonl")
    assert str(jsonl) in exported.replace("\n", "")
    assert list(tmp_path.iterdir()) == []  # nothing written into the working directory
    assert mode(md) == mode(jsonl) == 0o600
    assert mode(hermetic_env / "sessions") == mode(hermetic_env / "exports") == 0o700
    assert mode(hermetic_env / "history") == 0o600  # what was typed, for the up arrow
    # with a path, that path
    repl.say(f"/save {tmp_path / 'mine.md'}")
    assert (tmp_path / "mine.md").exists() and mode(tmp_path / "mine.md") == 0o600
    repl.quit()
    logs = hermetic_env / "logs"
    assert mode(logs) == 0o700
    assert [mode(p) for p in logs.glob("session_*")] == [0o600, 0o600]  # the .jsonl and the .json


def test_continue_shows_the_banner_then_the_last_exchanges_and_keeps_the_token_count(repl_factory):
    usage = {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}
    llm, repl = repl_factory([Reply(content=f"answer {n}", usage=usage) for n in range(1, 5)])
    for n in range(1, 5):
        repl.say(f"question {n}")
    shown_at_exit = repl.screen
    assert repl.quit() == 0
    tail = repl.screen[len(shown_at_exit):]
    session_id = re.search(r"hermes --resume (\S+)", tail).group(1)
    assert "hermes --continue" in tail and session_id in tail

    llm2, repl2 = repl_factory([Reply(content="more", usage=usage)], "--continue")
    screen = repl2.screen
    assert screen.index("hermes v") < screen.index("resumed session")
    recap = screen[screen.index("resumed session"):]
    assert "1 earlier exchange" in recap
    assert "you: question 1" not in recap and all(f"you: question {n}" in recap for n in (2, 3, 4))
    assert "hermes: answer 4" in recap
    # /usage and the toolbar read the same counters (the toolbar is not drawn without CPR in tests)
    shown = repl2.output_of("/usage")
    assert "3,600 in" in shown and "4,000 total" in shown and "4 model calls" in shown
    repl2.say("question 5")
    assert "900 tokens in" in repl2.screen  # the turn's footer counts this turn only
    repl2.quit()


def test_exit_says_nothing_about_continuing_an_empty_session(repl_factory):
    llm, repl = repl_factory([])
    mark = len(repl.screen)
    repl.quit()
    assert "session saved" in repl.screen[mark:] and "--continue" not in repl.screen[mark:]


def _fake_log(directory: Path, session_id: str, mode: str, prompt: str) -> None:
    events = [
        {"v": 1, "type": "session_start", "seq": 1, "ts": "t", "session_id": session_id, "model": "m", "mode": mode},
        {"v": 1, "type": "message", "seq": 2, "ts": "t", "message": {"role": "user", "content": prompt}},
        {"v": 1, "type": "message", "seq": 3, "ts": "t", "message": {"role": "assistant", "content": "ok"}},
    ]
    (directory / f"session_{session_id}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_sessions_pages_chats_and_lists_one_shot_runs_apart(repl_factory, scripted_llm, log_dir):
    log_dir.mkdir(parents=True, exist_ok=True)
    for n in range(23):
        _fake_log(log_dir, f"20261101_10{n:02d}00_aaaa{n:02d}", "repl", f"chat number {n}")
    oneshot = scripted_llm([Reply(content="done")])
    result = run_hermes("-p", "a one-shot question", "--base-url", oneshot.base_url, "--api-key", "sk-x",
                        "--model", "m")
    assert result.returncode == 0, result.stderr
    llm, repl = repl_factory([])
    first = repl.output_of("/sessions")
    assert "showing 1–20 of 23 chats, /sessions 2 for more" in first
    assert "chat number 22" in first and "chat number 2 " not in first and "a one-shot question" not in first
    assert "1 one-shot and batch runs: /sessions runs" in first
    assert "2026-11-01 10:22" in first and "chat" in first
    second = repl.output_of("/sessions 2")
    assert "showing 21–23 of 23 chats" in second and "for more" not in second and "chat number 0" in second
    runs = repl.output_of("/sessions runs")
    assert "a one-shot question" in runs and "one-shot" in runs and "chat number" not in runs
    assert "usage:" in repl.output_of("/sessions banana")
    # /resume's completion menu says what each id is
    repl.child.send("/resume 20261101_102")  # three ids start so: Tab opens the menu
    repl.child.send("\t")
    repl.child.expect("chat · 1 turn · chat number 22")
    repl.child.sendcontrol("c")
    repl.quit()


def test_slash_opens_a_menu_of_commands_with_their_help_and_skills_complete(repl_factory):
    llm, repl = repl_factory([])
    repl.child.send("/")
    repl.child.expect("Show the commands")  # /help's one-line help, shown without pressing Tab
    repl.drain()
    menu = repl.screen[repl.screen.rindex("❯"):]
    assert "/compress" in menu and "Summarise older messages" in menu, menu
    repl.child.sendcontrol("c")
    repl.child.send("/skills writing-a-")
    # Tab once the line shows what was typed, as a user would: a Tab read in the same batch as the keys
    # is dropped by prompt_toolkit when the completion started while typing `/skills` lands first (it
    # then only opens the menu; reproduced by sending "/skills writing-a-\t" in one write on any machine)
    repl.wait_for_input("❯ /skills writing-a-")
    repl.child.send("\t")
    repl.wait_for_input("❯ /skills writing-a-skill")  # Tab completed the name (Enter before that would not)
    repl.enter()
    repl.child.expect("writing-a-skill · hermes")  # /skills NAME shows the skill
    repl.child.expect(PROMPT)
    repl.quit()


def test_recap_of_a_few_exchanges():
    from agent.session_resume import recap

    messages = []
    for n in range(5):
        messages += [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]
    lines = recap(messages, exchanges=3).splitlines()
    assert lines[0].startswith("… 2 earlier exchange") and lines[1:] == ["you: q2", "hermes: a2", "you: q3", "hermes: a3",
                                                                       "you: q4", "hermes: a4"]


def test_ctrl_c_during_an_answer_is_shown_on_a_line_of_its_own(repl_factory):
    llm, repl = repl_factory([Reply(content="first line here\n\nsecond para starts " + "z " * 100, chunk_delay=0.3)])
    repl.type("go")
    repl.child.expect("first line here")
    time.sleep(1.0)  # part of the second paragraph has streamed
    repl.child.sendcontrol("c")
    repl.child.expect("interrupted")
    repl.child.expect(PROMPT)
    screen = repl.screen.replace("\x03", "")
    assert re.search(r"\n\^C\n", screen), screen[-600:]
    assert screen.count("^C") == 1  # the terminal's own echo is not glued to the answer
    assert screen.index("second para starts") < screen.index("^C") < screen.index("interrupted")
    repl.quit()


def test_model_not_listed_by_the_server_is_allowed_with_a_warning(repl_factory):
    llm, repl = repl_factory([Reply(content="ok")])
    # The REPL fetches the list while the user types; /model waits 5 s for it. On a loaded machine the
    # start-up alone (importing the SDK) can take longer, so the test types once the list was asked for.
    deadline = time.monotonic() + 30
    while not any(r.path == "/v1/models" for r in llm.requests):
        assert time.monotonic() < deadline, "the REPL never asked for the model list"
        time.sleep(0.05)
    shown = repl.output_of("/model scripted-modle")
    assert "model set to scripted-modle" in shown
    assert "does not list scripted-modle" in shown and "Did you mean scripted-model" in shown
    assert "does not list" not in repl.output_of("/model scripted-model")
    repl.say("/model scripted-modle")
    repl.say("hi")
    assert llm.chat_requests[-1].body["model"] == "scripted-modle"  # still allowed
    repl.quit()


def _spinner_repl(llm, *args: str) -> pexpect.spawn:
    """The REPL with the spinner left on (the shared harness turns it off)."""
    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("HERMES_DISABLE_SPINNER", None)
    child = pexpect.spawn(sys.executable, [str(HERMES), "--base-url", llm.base_url, "--api-key", "sk-test-0123456789",
                                           "--model", "scripted-model", *args],
                          env=env, encoding="utf-8", dimensions=(40, 140), timeout=20)
    child.expect(PROMPT)
    return child


def _waiting_screen(child: pexpect.spawn) -> str:
    child.send("hello\r")
    child.expect("slow answer")
    waited = child.before
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    return waited


def test_spinner_minimal_and_none(scripted_llm, hermetic_env):
    from hermes_cli.repl.spinner import DOTS, FACES

    minimal = _waiting_screen(_spinner_repl(scripted_llm([Reply(content="slow answer", delay=0.4)]), "--spinner", "minimal"))
    assert "working…" in minimal and any(dot in minimal for dot in DOTS)
    assert not any(face in minimal for face in FACES)
    (hermetic_env / "config.yaml").write_text("display:\n  spinner: none\n", encoding="utf-8")
    none = _waiting_screen(_spinner_repl(scripted_llm([Reply(content="slow answer", delay=0.4)])))
    assert "working…" not in none and not any(face in none for face in FACES) and not any(d in none for d in DOTS)
    (hermetic_env / "config.yaml").write_text("display:\n  spinner: false\n", encoding="utf-8")  # the old bool
    assert run_hermes("--version").returncode == 0


def test_bad_spinner_values_are_one_line_and_exit_2(hermetic_env):
    flag = run_hermes("-p", "hi", "--spinner", "sparkles")
    assert flag.returncode == 2 and "invalid choice: 'sparkles'" in flag.stderr and "kawaii" in flag.stderr
    (hermetic_env / "config.yaml").write_text("display:\n  spinner: sparkles\n", encoding="utf-8")
    config = run_hermes("-p", "hi", "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
    assert config.returncode == 2
    assert config.stderr.splitlines() == [f"hermes: error: {hermetic_env / 'config.yaml'}:2: 'sparkles' is not valid "
                                          "for display.spinner; expected one of kawaii, minimal, none"]
