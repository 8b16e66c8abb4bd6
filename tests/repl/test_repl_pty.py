"""The real REPL in a pseudo-terminal (pexpect) against the scripted server."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from scripted_server import Reply, ToolCall
from tests.conftest import HERMES
from tests.tools.proc_util import process_alive

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")
PROMPT = "❯"
ROWS, COLUMNS = 40, 140


class Repl:
    def __init__(self, llm, *args: str, env: dict | None = None, cwd: Path | None = None):
        environment = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1",
                           HERMES_DISABLE_SPINNER="1", **(env or {}))
        argv = [str(HERMES), "--base-url", llm.base_url, "--api-key", "sk-test-0123456789", "--model", "scripted-model",
                *args]
        self.child = pexpect.spawn(sys.executable, argv, env=environment, encoding="utf-8",
                                   dimensions=(ROWS, COLUMNS), timeout=20, cwd=str(cwd) if cwd else None)
        self.log = io.StringIO()
        self.child.logfile_read = self.log
        self.child.expect(PROMPT)

    def type(self, text: str) -> None:
        """Type a line and press Enter; returns once the line is accepted."""
        self.child.send(text)
        if text.startswith("/") and "\n" not in text and len(text) < COLUMNS - 4:
            # A slash command opens the completion menu while it is typed: an Enter read in the same
            # batch as the keys can land while that menu starts and be dropped (seen under load with
            # `/resume <id>`), so it is pressed once the screen shows the whole line.
            self.wait_for_input(f"❯ {text}".rstrip())
        else:
            time.sleep(0.1)
        self.enter()

    def enter(self) -> None:
        self.drain()  # what was drawn while typing (the `/` menu has line breaks) is not the answer
        self.child.send("\r")
        # prompt_toolkit redraws "❯ text" when the line is accepted; what follows comes after
        # the line break that ends the input.
        self.child.expect("\n")

    def drain(self, quiet: float = 0.05) -> None:
        """Read (into the log) whatever the screen shows until it has been quiet for `quiet` s."""
        try:
            while True:
                self.child.read_nonblocking(65536, timeout=quiet)
        except pexpect.TIMEOUT:
            pass

    def say(self, text: str) -> None:
        """Send a message or command and wait for the next prompt."""
        self.type(text)
        self.child.expect(PROMPT)

    def output_of(self, text: str) -> str:
        """Send a line; what the screen shows from then until the next prompt."""
        mark = len(self.screen)
        self.say(text)
        return self.screen[mark:]

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.log.getvalue())

    def wait_for_input(self, text: str, timeout: float = 20) -> None:
        """Wait until the line the cursor is on (the input line) reads `text` on an emulated screen: what
        the user sees, where a plain expect could match the same words in a completion menu or an echo."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain(0.02)
            screen = pyte.Screen(COLUMNS, ROWS)
            pyte.Stream(screen).feed(self.log.getvalue())
            line = screen.display[screen.cursor.y].rstrip()
            if line == text:
                return
            assert time.monotonic() < deadline, f"the input line reads {line!r}, not {text!r}"

    def quit(self) -> int:
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def repl_factory(scripted_llm):
    sessions = []

    def start(replies, *args, llm_options=None, **kwargs):
        llm = scripted_llm(replies, **(llm_options or {}))
        session = Repl(llm, *args, **kwargs)
        sessions.append(session)
        return llm, session

    yield start
    for session in sessions:
        if session.child.isalive():
            session.child.terminate(force=True)


def system_prompt(request) -> str:
    return request.body["messages"][0]["content"]


def user_texts(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "user"]


def test_banner_streamed_answer_once_and_tool_line(repl_factory):
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo tool-ran-$((40+2))"})]),
        Reply(content="The unique answer sentence is here."),
    ])
    assert "scripted-model" in repl.screen and "session" in repl.screen.lower()
    repl.say("run it")
    screen = repl.screen
    assert screen.count("The unique answer sentence is here.") == 1
    assert re.search(r"✓ terminal\s+echo tool-ran-\$\(\(40\+2\)\)", screen)
    assert repl.quit() == 0


def test_personality_changes_the_next_system_prompt(repl_factory):
    llm, repl = repl_factory([Reply(content="plain"), Reply(content="arr")])
    repl.say("hello")
    repl.say("/personality pirate")
    repl.say("hello again")
    first, second = llm.chat_requests
    assert "pirate" not in system_prompt(first).lower()
    assert "pirate" in system_prompt(second).lower()
    repl.quit()


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    """The file's text once something wrote a line to it (an upper bound, not a delay)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and (text := path.read_text(encoding="utf-8")).endswith("\n"):
            return text
        time.sleep(0.02)
    raise AssertionError(f"{path} was not written within {timeout} s")


def test_ctrl_c_stops_a_running_command_and_the_prompt_works_after(repl_factory, tmp_path):
    started_file = tmp_path / "started"
    # `$$` inside the OS sandbox is a pid of its own pid namespace: the sleep is found on the host by
    # a unique duration instead (the file only says the command has started).
    nap = f"30.{os.getpid()}"
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"echo $$ > {started_file}; exec sleep {nap}"}, id="long")]),
        Reply(content="second answer"),
    ])
    repl.type("wait for it")
    # Ctrl-C once the command runs: on a busy machine the model call alone can take over a second,
    # and a Ctrl-C before the command starts interrupts the turn instead (another test's subject).
    wait_for_file(started_file)
    deadline = time.monotonic() + 10  # the file is written just before the exec
    while not (pids := [int(n) for n in os.listdir("/proc") if n.isdigit() and _cmdline(n) == f"sleep\0{nap}\0"]):
        assert time.monotonic() < deadline, "the command's sleep never started"
        time.sleep(0.02)
    sleep_pid = pids[0]
    started = time.monotonic()
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    assert time.monotonic() - started < 10  # far below the command's 30 s: it was stopped, not awaited
    assert not process_alive(sleep_pid)
    repl.say("again")
    assert "second answer" in repl.screen
    messages = llm.chat_requests[-1].body["messages"]
    tool = next(m for m in messages if m["role"] == "tool")
    assert tool["tool_call_id"] == "long" and "interrupted" in tool["content"]
    repl.quit()


def test_ctrl_c_before_any_command_runs_ends_the_turn_cleanly(repl_factory):
    # The model has not answered yet (on a busy machine a Ctrl-C often lands here rather than in
    # the command): the turn ends, the prompt comes back, and the next message is answered.
    llm, repl = repl_factory([Reply(content="too late", delay=30), Reply(content="second answer")])
    repl.type("wait for it")
    deadline = time.monotonic() + 20
    while not llm.chat_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert llm.chat_requests, "the model was never asked"
    repl.child.sendcontrol("c")
    repl.child.expect("interrupted")
    repl.child.expect(PROMPT)
    repl.say("again")
    assert "second answer" in repl.screen and "too late" not in repl.screen
    assert user_texts(llm.chat_requests[-1])[-1] == "again"
    assert repl.quit() == 0


def test_undo_and_retry(repl_factory):
    llm, repl = repl_factory([Reply(content="a1"), Reply(content="a2"), Reply(content="a3"), Reply(content="a4")])
    repl.say("first")
    repl.say("second")
    repl.say("/undo")
    repl.say("third")
    assert user_texts(llm.chat_requests[2]) == ["first", "third"]
    repl.say("/retry")
    assert user_texts(llm.chat_requests[3]) == ["first", "third"]
    assert len(llm.chat_requests[3].body["messages"]) == 4  # system, first, a1, third
    repl.quit()


def test_continue_restores_history(scripted_llm, repl_factory):
    llm, repl = repl_factory([Reply(content="remembered answer")])
    repl.say("remember the word zebra")
    repl.quit()
    llm2, repl2 = repl_factory([Reply(content="yes")], "--continue")
    assert "zebra" in repl2.screen  # the recap of the last exchange
    repl2.say("what word?")
    assert user_texts(llm2.chat_requests[0]) == ["remember the word zebra", "what word?"]
    repl2.quit()


def test_dangerous_command_asks_and_deny_keeps_it_from_running(repl_factory, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"rm -rf {target}"})]),
        Reply(content="ok, not deleted"),
    ])
    repl.type("clean up")
    repl.child.expect("allow\\?")
    repl.child.send("n")  # one key, no Enter
    repl.child.expect(PROMPT)
    assert target.exists()
    result = json.loads(next(m for m in llm.chat_requests[1].body["messages"] if m["role"] == "tool")["content"])
    assert "denied" in result["error"]
    repl.quit()


def test_unknown_command_suggests_and_save_writes_markdown(repl_factory, tmp_path):
    llm, repl = repl_factory([Reply(content="saved answer")], cwd=tmp_path)
    repl.say("/hepl")
    assert "Did you mean /help" in repl.screen
    repl.say("hi")
    repl.say(f"/save {tmp_path / 'chat.md'}")
    text = (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert "## You" in text and "hi" in text and "saved answer" in text
    assert str(tmp_path / "chat.md") in repl.screen.replace("\n", "")
    repl.quit()


def test_tab_completes_commands_and_personalities(repl_factory):
    llm, repl = repl_factory([])
    repl.child.send("/perso")
    repl.child.expect("perso")
    repl.child.send("\t")
    repl.child.expect("nality")  # the screen shows the completed /personality
    repl.child.send(" pir")
    repl.child.expect("pir")
    repl.child.send("\t")
    repl.child.expect("ate")  # ... and the completed pirate
    repl.enter()
    repl.child.expect(PROMPT)
    assert "personality: pirate" in repl.screen
    repl.quit()


def test_double_ctrl_c_exits_cleanly(repl_factory):
    llm, repl = repl_factory([])
    repl.child.sendcontrol("c")
    repl.child.expect("Ctrl-C again")
    repl.child.sendcontrol("c")
    repl.child.expect(pexpect.EOF)
    repl.child.close()
    assert repl.child.exitstatus == 0, repl.screen[-2000:]


def test_bad_config_refuses_to_start(scripted_llm, hermetic_env):
    """The REPL's policy (README): invalid settings are one line each and exit 2, as with -p."""
    (hermetic_env / "config.yaml").write_text("model: [unclosed\n", encoding="utf-8")
    llm = scripted_llm([Reply(content="never asked")])
    child = pexpect.spawn(sys.executable, [str(HERMES), "--base-url", llm.base_url], encoding="utf-8",
                          env=dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1"), timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    lines = [line for line in ANSI.sub("", child.before).splitlines() if line.strip()]
    assert child.exitstatus == 2
    assert len(lines) == 1 and f"{hermetic_env / 'config.yaml'}:2: invalid YAML" in lines[0], lines
    assert llm.chat_requests == []


def test_usage_reports_cost_and_sessions_lists_this_one(repl_factory):
    usage = {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128, "cost": 0.0021}
    llm, repl = repl_factory([Reply(content="priced", usage=usage)])
    repl.say("a question worth listing")
    repl.say("/usage")
    assert "120 in" in repl.screen and "$0.0021" in repl.screen
    repl.say("/sessions")
    assert "a question worth listing" in repl.screen.split("/sessions")[-1]
    assert repl.quit() == 0


def test_ctrl_c_during_a_slow_model_reply_returns_to_the_prompt(repl_factory):
    llm, repl = repl_factory([
        Reply(content="a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4, chunk_delay=0.5),
        Reply(content="fresh reply"),
    ])
    repl.type("stream slowly")
    repl.child.expect("a b c")
    started = time.monotonic()
    repl.child.sendcontrol("c")
    repl.child.expect(PROMPT)
    assert time.monotonic() - started < 10  # the whole reply takes 50 s: it was cut short, not awaited
    repl.say("next")
    assert "fresh reply" in repl.screen
    # the interrupted partial answer is not sent back as if it were complete: it ends in the mark
    assert all(m["content"].endswith("[interrupted by the user]")
               for m in llm.chat_requests[-1].body["messages"] if m["role"] == "assistant")
    assert repl.quit() == 0


def test_sudo_asks_for_the_password_once_and_hides_it(repl_factory, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text(
        '#!/bin/bash\n[ "$1" = "-n" ] && exit 1\nshift 4\nIFS= read -r line\n'
        'printf "%s\\n" "$line" >"$(dirname "$0")/stdin.log"\n"$@"\n', encoding="utf-8")
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n", encoding="utf-8")
    for name in ("sudo", "id"):
        (bin_dir / name).chmod(0o755)
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": f"export PATH={bin_dir}:$PATH"})]),
        Reply(tool_calls=[ToolCall("terminal", {"command": "sudo echo elevated"})]),
        Reply(content="all done"),
    ])
    repl.type("install it")
    repl.child.expect("sudo password")
    repl.child.send("hunter2-secret\r")
    repl.child.expect(PROMPT)
    assert "all done" in repl.screen and "hunter2-secret" not in repl.screen
    assert (bin_dir / "stdin.log").read_text(encoding="utf-8") == "hunter2-secret\n"
    tool = [m for m in llm.chat_requests[-1].body["messages"] if m["role"] == "tool"][-1]
    assert "elevated" in tool["content"]
    assert repl.quit() == 0


def answer_with_user_text(body: dict, index: int) -> Reply:
    return Reply(content=f"reply {index}: " + user_texts_of(body)[-1])


def user_texts_of(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def test_every_slash_command_does_what_it_says(repl_factory, tmp_path, hermetic_env):
    llm, repl = repl_factory(answer_with_user_text, cwd=tmp_path)
    repl.say("/help")
    for name in ("/tools", "/toolsets", "/model", "/prompt", "/personality", "/clear", "/new", "/history",
                 "/save", "/retry", "/undo", "/config", "/usage", "/compress", "/sessions", "/resume", "/export",
                 "/skills", "/verbose", "/yolo", "/quit"):
        assert name in repl.screen, name
    repl.say("first question")
    repl.say("/model other-model")
    repl.say("/prompt Always answer in French.")
    repl.say("/toolsets file")
    repl.say("second question")
    request = llm.chat_requests[-1].body
    assert request["model"] == "other-model"
    assert "Always answer in French." in system_prompt(llm.chat_requests[-1])
    assert sorted(t["function"]["name"] for t in request["tools"]) == ["patch", "read_file", "search_files",
                                                                     "write_file"]
    assert user_texts_of(request) == ["first question", "second question"]
    assert "the model sees 4 tool(s) now" in repl.output_of("/tools")
    config = repl.output_of("/config")
    assert re.search(r"model\.default +other-model +/model", config)  # live, with the command as source
    assert "sk-test-0123456789" not in config and re.search(r"model\.api_key +sk-…6789 +flag --api-key", config)
    assert "second question" in repl.output_of("/history")
    repl.say("/export sharegpt out.jsonl")
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(exported) == 1 and exported[0]["conversations"][1]["value"] == "first question"
    assert "invalid choice: 'bogus'" in repl.output_of("/export bogus")  # says why; the session goes on
    assert "git-workflow" in repl.output_of("/skills")
    assert "SKILL.md" in repl.output_of("/skills writing-a-skill")
    assert "yolo on" in repl.output_of("/yolo")
    assert "verbose on" in repl.output_of("/verbose")
    assert "Traceback" not in repl.output_of("/compress")
    assert re.search(r"new session \d{8}_\d{6}_[0-9a-f]{6}", repl.output_of("/new"))
    repl.say("third question")
    assert user_texts_of(llm.chat_requests[-1].body) == ["third question"]
    sessions = sorted((hermetic_env / "logs").glob("session_*.jsonl"))
    assert len(sessions) == 2  # resume the first one by a prefix of its id
    first_id = sessions[0].name.removeprefix("session_").removesuffix(".jsonl")
    assert f"resumed session {first_id}" in repl.output_of(f"/resume {first_id[:18]}")
    repl.say("fourth question")
    assert user_texts_of(llm.chat_requests[-1].body)[:2] == ["first question", "second question"]
    assert "Traceback" not in repl.screen
    assert repl.quit() == 0


def test_always_stores_a_rule_as_narrow_as_the_command_and_approvals_lists_and_removes_it(
        repl_factory, tmp_path, hermetic_env):
    (tmp_path / "build").mkdir()
    (tmp_path / "other").mkdir()
    (hermetic_env / "config.yaml").write_text("approvals:\n  allowlist:\n  - recursive delete (rm -r)\n")
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("terminal", {"command": "rm -rf build"})]),
        Reply(tool_calls=[ToolCall("terminal", {"command": "rm -rf other"})]),
        Reply(content="done"),
    ], cwd=tmp_path)
    repl.type("clean up")
    # The old reason-only entry allows nothing: the command asks, and shows the rule "always" stores.
    repl.child.expect("allow\\?")
    assert "would allow: rm -r under ./build" in repl.screen
    repl.child.send("a")
    # A recursive delete elsewhere is not covered by that rule. (Wait for the second question itself:
    # the countdown redraws the first one, and keys typed before the second shows are dropped.)
    repl.child.expect("would allow: rm -r under ./other")
    repl.child.expect("allow\\?")
    repl.child.send("n")
    repl.child.expect(PROMPT)
    assert "always allowed, saved to approvals.allowlist (/approvals lists it): rm -r under ./build" in repl.screen
    assert not (tmp_path / "build").exists() and (tmp_path / "other").exists()
    saved = (hermetic_env / "config.yaml").read_text()
    assert "rm -r under ./build" in saved and "rm -r under ./other" not in saved
    listing = repl.output_of("/approvals")
    assert "rm -r under ./build" in listing and "old format, allows nothing" in listing
    assert "removed: rm -r under ./build" in repl.output_of("/approvals remove 2")
    assert "rm -r under ./build" not in (hermetic_env / "config.yaml").read_text()
    assert "recursive delete (rm -r)" in repl.output_of("/approvals")
    assert repl.quit() == 0


def test_an_endpoint_error_echoing_the_key_is_redacted_on_screen(repl_factory):
    body = {"error": {"message": "Incorrect API key provided: sk-test-0123456789", "code": 401}}
    llm, repl = repl_factory([Reply(status=401, error_body=body)])
    repl.say("hi")
    assert "Incorrect API key provided: [REDACTED]" in repl.screen.replace("\n", "")
    assert "sk-test-0123456789" not in repl.screen
    assert repl.quit() == 0


def test_settings_changed_by_commands_are_logged_so_every_request_rebuilds(repl_factory, tmp_path, hermetic_env):
    """/prompt, /personality, /toolsets and /model go through the live settings; the log still
    holds what each request carried (request_context and tools_changed events, the model per call)."""
    from recording.reader import load_session
    from recording.requests import canonical, request_body

    llm, repl = repl_factory(answer_with_user_text, cwd=tmp_path)
    for line in ("first", "/prompt Always answer in French.", "second", "/personality pirate", "third",
                 "/toolsets file", "fourth", "/model other-model", "fifth"):
        repl.say(line)
    assert repl.quit() == 0
    (log,) = (hermetic_env / "logs").glob("session_*.jsonl")
    session = load_session(log)
    sent = [r.body for r in llm.chat_requests]
    rebuilt = [request_body(view) for view in session.calls]
    assert [canonical(b) for b in rebuilt] == [canonical(b) for b in sent]
    prompts = [b["messages"][0]["content"] for b in sent]
    assert len(set(prompts)) == 3 and "pirate" in prompts[2] and len({len(b["tools"]) for b in sent}) == 2
    assert [b["model"] for b in sent] == ["scripted-model"] * 4 + ["other-model"]
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [sorted(e) for e in events if e["type"] == "request_context"] == [
        ["seq", "system_prompt", "ts", "type", "v"]] * 2  # /prompt, /personality; /toolsets: tools_changed
    assert sum(e["type"] == "tools_changed" for e in events) == 1
