"""ApprovalPrompt: the question names the rule, and session/always allow only what that rule covers."""

from __future__ import annotations

from hermes_cli.repl.approval import ApprovalPrompt


def answering(*answers: str):
    questions: list[str] = []
    queue = list(answers)

    def ask(question: str, timeout: float, **keys: object) -> str:
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
    assert "y once · n no" in questions[0] and "[s]ession" not in questions[0]
    assert gate.check(protected, ctx) is None and len(questions) == 2  # asked again
    assert gate.check(edit, ctx) is None and "[s]ession would allow: edits files in the workspace" in questions[2]
    assert gate.check(edit, ctx) is None and len(questions) == 3  # the session rule covers it
    assert prompt.listing() == [("edits files in the workspace", "session")] and saved == []


def test_gate_tells_a_timeout_and_a_ctrl_c_apart_from_a_denial():
    """The gate is the one place that words the refusal: a timeout is no "user denied", and a
    Ctrl-C at the question also sets the turn's interrupt so the loop stops after this call."""
    import threading

    from tools import gate
    from tools.registry import ToolContext

    action = gate.Command("git push -f", gate.CommandVerdict(gate.NEEDS_APPROVAL, "force push"))
    texts = {}
    for key in ("n", "timeout", "interrupt"):
        ask, _ = answering(key)
        ctx = ToolContext(approve=ApprovalPrompt(ask=ask, timeout=7), interrupt=threading.Event())
        texts[key] = (gate.check(action, ctx), ctx.interrupt.is_set())
    assert texts["n"][0].startswith("the user denied this command") and not texts["n"][1]
    assert texts["timeout"][0].startswith("approval timed out") and "within 7 s" in texts["timeout"][0]
    assert "denied" not in texts["timeout"][0] and not texts["timeout"][1]
    assert texts["interrupt"][0].startswith("interrupted: the user pressed Ctrl-C") and texts["interrupt"][1]


def test_once_only_questions_turn_session_and_always_into_once():
    ask, questions = answering("a")
    from tools.gate import Question

    answer = ApprovalPrompt(ask=ask)("write_file ~/.bashrc", Question("writes a protected path", "p", True))
    assert answer and answer.how == "once"
