"""Issue 18 in the real REPL (pseudo-terminal, scripted server): /context, the cap warning, Tab after
`@`, the attached file, and /init writing AGENTS.md through write_file and the approval prompt."""

from __future__ import annotations

from pathlib import Path

from scripted_server import Reply, ToolCall
from tests.repl.test_repl_pty import PROMPT, repl_factory, system_prompt, user_texts  # noqa: F401  (fixture)


def test_context_lists_the_files_sizes_and_what_the_cap_cut(repl_factory, tmp_path, hermetic_env):  # noqa: F811
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pkg").mkdir()
    (repo / "AGENTS.md").write_text("ROOT " * 40)  # 200 bytes
    (repo / "pkg" / "HERMES.md").write_text("PKG-RULE\n")
    (hermetic_env / "config.yaml").write_text("context_files:\n  max_bytes: 100\n")
    llm, repl = repl_factory([Reply(content="ok"), Reply(content="ok again")], cwd=repo / "pkg")
    assert "context files over context_files.max_bytes (100 bytes)" in repl.screen  # said at start-up
    shown = repl.output_of("/context")
    assert "Context files" in shown and "HERMES.md" in shown and "AGENTS.md" in shown
    assert "cut" in shown and "9 B" in shown and "200 B" in shown and "91 B" in shown
    # The line ends with the root's path, which wraps onto the next line when the tmp path is long (the
    # wrap takes the space before it): compare with the line breaks read back as spaces.
    assert "100 B sent of the 100 B cap" in shown and f"repository root {repo}" in " ".join(shown.split())
    repl.say("hi")
    system = system_prompt(llm.chat_requests[0])
    assert "PKG-RULE" in system and "ROOT " * 18 in system and "ROOT " * 19 not in system
    (repo / "pkg" / "HERMES.md").write_text("PKG-RULE-V2\n")
    repl.say("/new")  # a new session re-reads the files
    repl.say("hi")
    assert "PKG-RULE-V2" in system_prompt(llm.chat_requests[1])
    assert repl.quit() == 0


def test_context_without_files_says_where_it_looked(repl_factory, tmp_path):  # noqa: F811
    llm, repl = repl_factory([], cwd=tmp_path)
    shown = repl.output_of("/context")
    assert "no context files loaded" in shown and "/init" in shown
    repl.quit()


def test_tab_completes_a_path_after_at_and_the_file_is_attached(repl_factory, tmp_path):  # noqa: F811
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('APP-BODY')\n")
    llm, repl = repl_factory([Reply(content="explained")], cwd=tmp_path)
    repl.child.send("explain @sr")
    repl.child.expect("@sr")
    repl.child.send("\t")
    repl.child.expect("c/")  # completed to @src/
    repl.child.send("ap")
    repl.child.expect("ap")
    repl.child.send("\t")
    repl.child.expect("p.py")  # ... and to @src/app.py
    repl.enter()
    repl.child.expect(PROMPT)
    assert user_texts(llm.chat_requests[0]) == [
        "explain @src/app.py\n\n<attached_file path=\"src/app.py\" bytes=\"18\">\nprint('APP-BODY')\n</attached_file>"]
    shown = repl.output_of("ask @missing.txt")
    assert "@missing.txt: no such file" in shown
    repl.quit()


def test_init_writes_agents_md_through_the_gate_and_refuses_to_overwrite(repl_factory, tmp_path):  # noqa: F811
    (tmp_path / "README.md").write_text("# demo\n")
    content = "# AGENTS.md\n\nRun `pytest -q` before committing.\n"
    llm, repl = repl_factory([
        Reply(tool_calls=[ToolCall("read_file", {"path": "README.md"})]),
        Reply(tool_calls=[ToolCall("write_file", {"path": "AGENTS.md", "content": content})]),
        Reply(content="Wrote AGENTS.md."),
        Reply(content="next answer"),
    ], env={"TERMINAL_CWD": str(tmp_path)}, cwd=tmp_path)
    repl.type("/init")
    repl.child.expect("allow\\?")  # the normal approval prompt for a workspace edit
    repl.child.send("y")
    repl.child.expect(PROMPT)
    assert (tmp_path / "AGENTS.md").read_text() == content
    init_prompt = user_texts(llm.chat_requests[0])[0]
    assert init_prompt.startswith(f"Write a starter AGENTS.md for this project at {tmp_path / 'AGENTS.md'}")
    assert "wrote" in repl.screen and "system prompt from the next" in repl.screen.replace("\n", " ")
    repl.say("thanks")
    assert "Run `pytest -q` before committing." in system_prompt(llm.chat_requests[-1])
    calls = len(llm.chat_requests)
    shown = repl.output_of("/init")
    assert "exists already" in shown and "/init force" in shown
    assert len(llm.chat_requests) == calls  # no model turn
    assert (tmp_path / "AGENTS.md").read_text() == content
    repl.quit()


def test_init_reports_when_the_model_wrote_nothing(repl_factory, tmp_path: Path):  # noqa: F811
    llm, repl = repl_factory([Reply(content="I would rather not.")], cwd=tmp_path)
    shown = repl.output_of("/init")
    assert "the model did not write" in shown
    assert not (tmp_path / "AGENTS.md").exists()
    repl.quit()
