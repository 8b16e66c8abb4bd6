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
