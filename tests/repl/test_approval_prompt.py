"""ApprovalPrompt: the question names the rule, and session/always allow only what that rule covers."""

from __future__ import annotations

from hermes_cli.repl.approval import ApprovalPrompt


def answering(*answers: str):
    questions: list[str] = []
    queue = list(answers)

    def ask(question: str, timeout: float) -> str:
        questions.append(question)
        return queue.pop(0)

    return ask, questions


def test_session_answer_allows_only_the_same_scope():
    ask, questions = answering("s", "d", "d")
    prompt = ApprovalPrompt(ask=ask)
    assert prompt("rm -rf build", "recursive delete (rm -r)")
    assert "would allow: rm -r under ./build" in questions[0]
    assert prompt("rm -rf build/sub", "recursive delete (rm -r)")  # covered: no question
    assert not prompt("rm -rf /srv/data", "recursive delete (rm -r)")
    assert not prompt("git push -f", "force push rewrites remote history")
    assert len(questions) == 3 and "would allow: this exact command" in questions[2]


def test_always_saves_the_narrow_rule_and_remove_takes_it_back():
    saved: list[list[str]] = []
    ask, questions = answering("a", "a")
    prompt = ApprovalPrompt(ask=ask, allowlist=["recursive delete (rm -r)"], save_always=lambda rules: saved.append(list(rules)))
    assert prompt("rm -rf dist", "recursive delete (rm -r)")  # the legacy entry did not allow it: asked
    assert prompt("git push -f", "force push rewrites remote history")
    assert saved[-1] == ["recursive delete (rm -r)", "rm -r under ./dist", "exactly: git push -f"]
    assert [kind for _, kind in prompt.listing()] == ["legacy", "always", "always"]
    assert prompt.remove("2") == ["rm -r under ./dist"]
    assert saved[-1] == ["recursive delete (rm -r)", "exactly: git push -f"]
    assert prompt.remove("nothing-like-this") == []


def test_gate_questions_protected_paths_are_asked_every_time(tmp_path):
    """Through the real gate: a protected-path write offers once/deny and is never remembered (a
    "session" or "always" answer allows this write only); workspace edits can be allowed for the
    session, are listed by /approvals as session rules and are not saved to config."""
    from tools import gate
    from tools.path_policy import PathPolicy
    from tools.registry import ToolContext

    saved: list[list[str]] = []
    ask, questions = answering("a", "s", "s")
    prompt = ApprovalPrompt(ask=ask, save_always=lambda rules: saved.append(list(rules)))
    ctx = ToolContext(task_id="t", approve=prompt, approval_mode="ask")
    policy = PathPolicy.for_host(str(tmp_path), hermes_home=str(tmp_path / "hh"), hermes_cwd=str(tmp_path),
                                 home=str(tmp_path), temp_dir="/tmp")
    protected = gate.FileWrite(str(tmp_path / ".bashrc"), policy.classify_write(str(tmp_path / ".bashrc")))
    edit = gate.FileWrite(str(tmp_path / "a.py"), policy.classify_write(str(tmp_path / "a.py")))
    assert protected.where.kind == gate.PROTECTED and edit.where.kind == gate.WORKSPACE
    assert gate.check(protected, ctx) is None
    assert "[o]nce / [d]eny" in questions[0] and "[s]ession" not in questions[0]
    assert gate.check(protected, ctx) is None and len(questions) == 2  # asked again
    assert gate.check(edit, ctx) is None and "[s]ession would allow: edits files in the workspace" in questions[2]
    assert gate.check(edit, ctx) is None and len(questions) == 3  # the session rule covers it
    assert prompt.listing() == [("edits files in the workspace", "session")] and saved == []
