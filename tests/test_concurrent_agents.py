"""Agents built and run from several threads at once in a fresh process (RL frameworks start
rollouts with asyncio.to_thread): the lazily imported openai SDK must be whole for every thread."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from scripted_server import Reply
from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, sys, threading
    sys.path.insert(0, {root!r})
    from run_agent import AIAgent

    threads = 6
    barrier = threading.Barrier(threads)
    answers, errors = [], []

    def rollout(number):
        barrier.wait()  # every thread reaches the SDK import at the same moment
        try:
            agent = AIAgent(model="m", base_url={url!r}, api_key="sk-test-0123456789", record=False,
                            enabled_toolsets=["terminal"], task_id=f"race-{{number}}")
            try:
                answers.append(agent.run_conversation(f"hello {{number}}")["final_response"])
            finally:
                agent.close()
        except Exception as exc:
            errors.append(f"{{type(exc).__name__}}: {{exc}}")

    workers = [threading.Thread(target=rollout, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({{"answers": sorted(answers), "errors": errors}}))
""")


def test_agents_built_concurrently_in_a_fresh_process_all_run(scripted_llm, tmp_path):
    llm = scripted_llm(lambda body, index: Reply(content="hi there"))
    for attempt in range(3):  # the race needs a fresh interpreter each time; three tries made it fail reliably
        script = SCRIPT.format(root=str(ROOT), url=llm.base_url)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["errors"] == [], f"attempt {attempt}: {result['errors']}"
        assert result["answers"] == ["hi there"] * 6
