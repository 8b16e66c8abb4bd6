"""Checkpoints and /rewind on the real agent: the scripted model writes, patches and runs commands
over several turns; a rewind puts the files on disk back exactly and cuts the conversation, the
next request shows it, the session log records it, and it all survives a resume. No git anywhere."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agent.checkpoints import RewindError
from agent.rewind import parse, rewind, turn_rows
from agent.settings import load_settings
from recording.reader import load_session
from run_agent import AIAgent
from scripted_server import Reply, ToolCall


def make_agent(llm, work: Path, **checkpoints) -> AIAgent:
    settings = load_settings(read_files=False)
    settings.terminal.cwd = str(work)
    for key, value in checkpoints.items():
        setattr(settings.checkpoints, key, value)
    return AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", settings=settings,
                   enabled_toolsets=["terminal", "file"], approval_mode="yolo", **({}))


def tree(root: Path) -> dict[str, str | None]:
    """Every file (with its content) and directory (None) under root."""
    return {str(p.relative_to(root)): (p.read_text() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def three_turns(work: Path) -> list[Reply]:
    return [
        Reply(tool_calls=[ToolCall("write_file", {"path": "app.py", "content": "print('v1')\n"})]),
        Reply(content="turn one done"),
        Reply(tool_calls=[ToolCall("patch", {"path": "app.py", "old_string": "v1", "new_string": "v2"}),
                          ToolCall("write_file", {"path": "pkg/sub/new.py", "content": "x = 1\n"})]),
        Reply(content="turn two done"),
        Reply(tool_calls=[ToolCall("terminal", {"command": "echo edited >> notes.txt; mkdir -p out/deep && "
                                                           "echo made > out/deep/gen.txt; rm old.txt; chmod +x app.py"})]),
        Reply(content="turn three done"),
    ]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "notes.txt").write_text("my notes\n")
    old = work / "old.txt"
    old.write_text("to be removed\n")
    old.chmod(0o640)
    return work


def run_three(agent: AIAgent) -> None:
    for prompt in ("create app.py", "bump it and add a module", "tidy up with the shell"):
        agent.chat(prompt)


def sent(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "user"]


def test_rewind_both_to_turn_one_restores_every_file_and_cuts_the_chat(scripted_llm, work, hermetic_env):
    before = tree(work)
    llm = scripted_llm([*three_turns(work), Reply(content="fresh start")])
    agent = make_agent(llm, work)
    run_three(agent)
    assert (work / "out/deep/gen.txt").exists() and not (work / "old.txt").exists()
    rows = turn_rows(agent)
    assert [r.turn.prompt for r in rows] == ["create app.py", "bump it and add a module", "tidy up with the shell"]
    assert {(Path(c.path).name, c.tool, c.action) for c in rows[2].changes} == {
        ("notes.txt", "terminal", "modified"), ("gen.txt", "terminal", "created"),
        ("old.txt", "terminal", "deleted"), ("app.py", "terminal", "modified")}

    count = len(agent.messages)
    outcome = rewind(agent, 1, "both")
    assert tree(work) == before  # contents exactly; created files and directories gone; nothing else
    assert stat.S_IMODE((work / "old.txt").stat().st_mode) == 0o640  # a deleted file comes back with its mode
    assert outcome.removed_messages == count and agent.messages == []

    agent.chat("start over")
    assert sent(llm.chat_requests[-1]) == ["start over"]  # the later turns are not sent again
    assert [r.turn.prompt for r in turn_rows(agent)] == ["start over"]
    agent.close()

    events = [json.loads(line) for line in Path(agent.session_paths[0]).read_text(encoding="utf-8").splitlines()]
    edit = next(e for e in events if e["type"] == "history_edit")
    assert edit["action"] == "rewind" and edit["turn"] == 1 and edit["restore"] == "both"
    assert sorted(Path(p).name for p in edit["files"]["deleted"]) == ["app.py", "gen.txt", "new.py"]
    assert [m["content"] for m in load_session(Path(agent.session_paths[0])).messages if m["role"] == "user"] == [
        "start over"]
    assert not any((p / ".git").exists() for p in (work, *work.parents))  # no git was involved

    store = hermetic_env / "checkpoints" / agent.session_id
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    modes = {stat.S_IMODE(p.stat().st_mode) for p in store.rglob("*")}
    assert modes <= {0o600, 0o700}
    assert not (store / "workspace.pack").exists()  # the copy of the workspace has no name on disk


def test_files_only_rewind_keeps_earlier_turns_and_the_chat(scripted_llm, work):
    llm = scripted_llm([*three_turns(work), Reply(content="still here")])
    agent = make_agent(llm, work)
    run_three(agent)
    messages = len(agent.messages)
    outcome = rewind(agent, *parse("2 files")[:2])
    assert outcome.removed_messages == 0 and len(agent.messages) == messages
    assert (work / "app.py").read_text() == "print('v1')\n"  # turn 1's file, as turn 1 left it
    assert not os.access(work / "app.py", os.X_OK)  # turn 3's chmod +x is undone too
    assert not (work / "pkg").exists() and (work / "old.txt").read_text() == "to be removed\n"
    assert (work / "notes.txt").read_text() == "my notes\n"
    agent.chat("and now?")
    assert sent(llm.chat_requests[-1])[:3] == ["create app.py", "bump it and add a module", "tidy up with the shell"]
    rows = turn_rows(agent)
    assert len(rows) == 4 and rows[1].changes == [] and rows[2].changes == []  # rewound: nothing left to undo
    assert [r.rewound for r in rows] == [False, True, True, False]
    agent.close()


def test_chat_only_rewind_leaves_the_files(scripted_llm, work):
    llm = scripted_llm([*three_turns(work), Reply(content="ok")])
    agent = make_agent(llm, work)
    run_three(agent)
    snapshot = tree(work)
    rewind(agent, 3, "chat")
    assert tree(work) == snapshot
    agent.chat("next")
    assert sent(llm.chat_requests[-1]) == ["create app.py", "bump it and add a module", "next"]
    agent.close()


def test_a_file_changed_since_by_someone_else_is_reported_not_clobbered(scripted_llm, work):
    llm = scripted_llm(three_turns(work)[:2])
    agent = make_agent(llm, work)
    agent.chat("create app.py")
    (work / "app.py").write_text("the user's own edit\n")
    outcome = rewind(agent, 1, "files")
    assert [Path(p).name for p in outcome.files.conflicts] == ["app.py"]
    assert (work / "app.py").read_text() == "the user's own edit\n"
    agent.close()


def test_force_overwrites_a_changed_file_and_keeps_a_copy(scripted_llm, work, hermetic_env):
    llm = scripted_llm(three_turns(work)[:2])
    agent = make_agent(llm, work)
    agent.chat("create app.py")
    (work / "app.py").write_text("the user's own edit\n")
    outcome = rewind(agent, *parse("1 files force")[:2], force=True)
    assert [Path(p).name for p in outcome.files.forced] == ["app.py"] and not (work / "app.py").exists()
    blobs = [p.read_bytes() for p in (hermetic_env / "checkpoints" / agent.session_id / "blobs").rglob("*")
             if p.is_file()]
    assert b"the user's own edit\n" in blobs
    agent.close()


def test_rewind_after_continue_uses_the_checkpoints_of_the_session(scripted_llm, work):
    llm = scripted_llm([*three_turns(work), Reply(content="resumed answer")])
    agent = make_agent(llm, work)
    run_three(agent)
    log = Path(agent.session_paths[0])
    agent.close()

    settings = load_settings(read_files=False)
    settings.terminal.cwd = str(work)
    resumed = AIAgent(model="scripted-model", base_url=llm.base_url, api_key="k", settings=settings,
                      enabled_toolsets=["terminal", "file"], approval_mode="yolo", resume=log)
    assert [r.number for r in turn_rows(resumed)] == [1, 2, 3]
    rewind(resumed, 2, "both")
    assert (work / "app.py").read_text() == "print('v1')\n" and (work / "old.txt").exists()
    resumed.chat("go on")
    assert sent(llm.chat_requests[-1]) == ["create app.py", "go on"]
    resumed.close()
    # the log replays to the same history
    assert [m["content"] for m in load_session(log).messages if m["role"] == "user"] == ["create app.py", "go on"]


def test_exports_leave_rewound_turns_out_like_undone_ones(scripted_llm, work, tmp_path):
    from hermes_cli.export_cmd import main as export_main

    llm = scripted_llm([*three_turns(work), Reply(content="after rewind")])
    agent = make_agent(llm, work)
    run_three(agent)
    rewind(agent, 2, "chat")
    agent.chat("replacement prompt")
    agent.close()
    log = agent.session_paths[0]
    for fmt in ("sharegpt", "openai", "atif"):
        out = tmp_path / f"out.{fmt}.jsonl"
        assert export_main([str(log), "--format", fmt, "--output", str(out)]) == 0
        text = out.read_text()
        assert "create app.py" in text and "replacement prompt" in text
        assert "bump it and add a module" not in text and "tidy up with the shell" not in text


def test_size_bound_prunes_other_sessions_then_the_oldest_turns(scripted_llm, work, hermetic_env):
    old = hermetic_env / "checkpoints" / "20200101_000000_aaaaaa"
    (old / "blobs" / "ab").mkdir(parents=True)
    (old / "blobs" / "ab" / "c").write_bytes(b"x" * 6_000)
    (old / "index.jsonl").write_text("")
    for i, letter in enumerate("abc"):  # what each turn overwrites is saved: 4 KB a turn
        (work / f"f{i}.txt").write_text(letter * 4_000)
    llm = scripted_llm([r for i in range(3) for r in (
        Reply(tool_calls=[ToolCall("write_file", {"path": f"f{i}.txt", "content": "short"})]), Reply(content="ok"))])
    agent = make_agent(llm, work, max_size_mb=10_000 / (1024 * 1024), terminal=False)
    for i in range(3):
        agent.chat(f"write file {i}")
    assert not old.exists()  # another session's checkpoints went first
    store = hermetic_env / "checkpoints" / agent.session_id
    size = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    assert size <= 10_000
    with pytest.raises(RewindError, match="pruned .* the earliest turn whose files can be rewound is 2"):
        rewind(agent, 1, "files")
    rewind(agent, 2, "files")
    assert [(work / f"f{i}.txt").read_text() for i in range(3)] == ["short", "b" * 4_000, "c" * 4_000]
    agent.close()


def test_terminal_watching_stops_past_the_file_limit_and_says_so(scripted_llm, work):
    for i in range(30):
        (work / f"many{i}.txt").write_text(str(i))
    llm = scripted_llm([Reply(tool_calls=[ToolCall("terminal", {"command": "echo x > made.txt"})]),
                        Reply(content="done")])
    agent = make_agent(llm, work, terminal_max_files=10)
    agent.chat("make a file")
    assert turn_rows(agent)[0].changes == []
    assert "more than 10 files" in agent.tool_context.checkpoints.terminal_note
    agent.close()


def test_checkpoints_off_records_nothing(scripted_llm, work, hermetic_env):
    llm = scripted_llm(three_turns(work)[:2])
    agent = make_agent(llm, work, enabled=False)
    agent.chat("create app.py")
    assert agent.tool_context.checkpoints is None and not (hermetic_env / "checkpoints").exists()
    with pytest.raises(RewindError, match="off"):
        rewind(agent, 1)
    agent.close()


@pytest.mark.parametrize("arg", ["", "x", "1 sideways", "1 files chat"])
def test_bad_rewind_arguments_say_the_usage(arg):
    with pytest.raises(ValueError, match="usage: /rewind N"):
        parse(arg)


def test_turn_numbers_out_of_range_are_one_line(scripted_llm, work):
    llm = scripted_llm(three_turns(work)[:2])
    agent = make_agent(llm, work)
    with pytest.raises(RewindError, match="nothing to rewind"):
        rewind(agent, 1)
    agent.chat("create app.py")
    with pytest.raises(RewindError, match="choose 1 to 1"):
        rewind(agent, 5)
    agent.close()
    assert os.path.exists(work / "app.py")


def test_a_prompt_moved_up_by_compression_is_still_found():
    from agent.checkpoints import Turn, locate_prompt, prompt_digest

    turn = Turn(2, "2026-12-02T07:00:00", "b", prompt_digest("b"), message_index=4)
    compressed = [{"role": "user", "content": "[Summary of earlier conversation: a]"},
                  {"role": "user", "content": "b"}, {"role": "assistant", "content": "ok"}]
    assert locate_prompt(compressed, turn) == 1
    assert locate_prompt(compressed[:1], turn) is None  # summarised away: a chat rewind says so


def test_inside_a_git_repository_git_is_left_alone(scripted_llm, work):
    import subprocess

    subprocess.run(["git", "init", "-q", str(work)], check=True)
    git_before = tree(work / ".git")
    before = {k: v for k, v in tree(work).items() if not k.startswith(".git")}
    llm = scripted_llm(three_turns(work))
    agent = make_agent(llm, work)
    run_three(agent)
    rewind(agent, 1, "files")
    assert {k: v for k, v in tree(work).items() if not k.startswith(".git")} == before
    assert tree(work / ".git") == git_before  # no commit, stash or index change: git was not used
    agent.close()
