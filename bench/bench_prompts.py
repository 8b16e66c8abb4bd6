"""How many approval prompts a normal coding session shows, per approval mode. Not a test: run
`python bench/bench_prompts.py` and read the table (tests/test_prompt_budget.py keeps the numbers).

A scripted model (scripted_server, real openai SDK, real tools, the default sandbox) does 20 typical
tool calls in a small git repo: reads, searches, `ls`/`git status`/`git diff`, edits with patch and
write_file, runs the code, one `rm -r build`, a commit. The REPL's ApprovalPrompt answers every
question with "once" (worst case) or "session" (the user's shortcut) and counts them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripted_server import Reply, ScriptedLLM, ToolCall  # noqa: E402


def session_calls() -> list[ToolCall]:
    """~20 tool calls of a small feature: read, search, edit, run, test, clean up, commit."""
    t = "terminal"
    return [
        ToolCall("read_file", {"path": "README.md"}),
        ToolCall("search_files", {"pattern": "def main"}),
        ToolCall(t, {"command": "ls -la"}),
        ToolCall(t, {"command": "git status --short"}),
        ToolCall("read_file", {"path": "src/app.py"}),
        ToolCall("patch", {"path": "src/app.py", "old_string": "return 1", "new_string": "return 2"}),
        ToolCall(t, {"command": "python3 src/app.py"}),
        ToolCall("write_file", {"path": "tests/test_app.py", "content": "import sys\nprint('ok')\n"}),
        ToolCall(t, {"command": "python3 tests/test_app.py"}),
        ToolCall("patch", {"path": "src/app.py", "old_string": "return 2", "new_string": "return 3"}),
        ToolCall(t, {"command": "grep -rn TODO src || true"}),
        ToolCall("write_file", {"path": "docs/notes.md", "content": "# notes\n"}),
        ToolCall(t, {"command": "mkdir -p build && cp src/app.py build/"}),
        ToolCall(t, {"command": "rm -r build"}),
        ToolCall(t, {"command": "git diff --stat"}),
        ToolCall("patch", {"path": "README.md", "old_string": "# demo", "new_string": "# demo app"}),
        ToolCall("write_file", {"path": ".gitignore", "content": "build/\n"}),
        ToolCall(t, {"command": "cat .gitignore"}),
        ToolCall(t, {"command": "git add -A && git commit -qm 'feature'"}),
        ToolCall(t, {"command": "git log --oneline -3"}),
    ]


def make_repo(root: Path) -> None:
    (root / "src").mkdir()
    (root / "README.md").write_text("# demo\n")
    (root / "src" / "app.py").write_text("def main():\n    return 1  # TODO\n\nprint(main())\n")
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"]):
        subprocess.run(argv, cwd=root, check=True)


def count_prompts(mode: str, answer: str) -> tuple[int, int]:
    """(prompts shown, tool calls that failed) for one session in `mode`, answering `answer`."""
    import os

    from hermes_cli.repl.approval import ApprovalPrompt
    from run_agent import AIAgent
    from tools.environments import manager

    with tempfile.TemporaryDirectory(prefix="hermes-prompts-") as scratch:
        repo = Path(scratch)
        make_repo(repo)
        os.environ["TERMINAL_CWD"] = str(repo)
        os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "b@x")
        os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "b@x")
        questions: list[str] = []
        prompt = ApprovalPrompt(ask=lambda q, timeout, **_: questions.append(q) or answer)
        calls = session_calls()
        with ScriptedLLM([Reply(tool_calls=[c]) for c in calls] + [Reply(content="done")]) as llm:
            agent = AIAgent(model="m", base_url=llm.base_url, api_key="sk-bench-0123456789", approve=prompt,
                            enabled_toolsets=["terminal", "file"])
            agent.tool_context.approval_mode = mode
            try:
                agent.run_conversation("add the feature")
            finally:
                agent.close()
                manager.cleanup_all()
            import json

            results = [json.loads(m["content"]) for m in llm.chat_requests[-1].body["messages"] if m["role"] == "tool"]
        failed = sum(1 for r in results if r.get("error"))
        return len(questions), failed


def main() -> None:
    print(f"{'mode':10} {'answer':8} prompts  failed calls  (of {len(session_calls())} tool calls)")
    for mode in ("ask", "auto-edit"):
        for answer in ("once", "session"):
            shown, failed = count_prompts(mode, answer)
            print(f"{mode:10} {answer:8} {shown:7}  {failed:12}")


if __name__ == "__main__":
    main()
