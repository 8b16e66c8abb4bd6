"""`hermes -p` builds only the openai SDK models it uses (agent/lazy_sdk_types.py), and the SDK's
type packages still answer every name when something asks for one."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from scripted_server import Reply
from tests.conftest import HERMES, ROOT

# Built by a plain `import openai` (openai.types -> responses, evals, graders); hermes never uses them.
UNUSED = ("openai.types.responses.response", "openai.types.eval_create_params", "openai.types.graders.multi_grader")


def imported_modules(importtime_stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in importtime_stderr.splitlines() if line.startswith("import time:")}


def test_a_one_shot_answer_without_building_the_apis_other_models(scripted_llm):
    server = scripted_llm([Reply(content="hello")])

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(HERMES), "-p", "hi", "--base-url", server.base_url, "--api-key", "x", "--model", "m"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)

    assert (proc.returncode, proc.stdout) == (0, "hello\n"), proc.stderr[-2000:]
    loaded = imported_modules(proc.stderr)
    assert "openai.types.chat.chat_completion_chunk" in loaded  # the real SDK answered
    assert not loaded & set(UNUSED)


CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from agent import llm
openai = llm.import_openai()
print(all(name not in sys.modules for name in sys.argv[2:]))
from openai.types import Batch                                  # a name from a package's __init__
from openai.types.responses import Response                     # a package's __init__ via `from`
print(Batch.__module__, Response.__module__, openai.types.Model.__name__)
print(Response.model_validate({"id": "r", "object": "response", "created_at": 1, "model": "m", "output": [],
      "parallel_tool_calls": False, "tool_choice": "auto", "tools": []}).id)
try:
    openai.types.NoSuchThing
except AttributeError as exc:
    print(exc)
"""


def test_the_sdks_type_packages_load_whole_on_first_use():
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), *UNUSED], capture_output=True, text=True, timeout=60)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "True",
        "openai.types.batch openai.types.responses.response Model",
        "r",
        "module 'openai.types' has no attribute 'NoSuchThing'",
    ]


def test_a_deferred_package_runs_its_index_at_the_first_name_looked_up(tmp_path, monkeypatch):
    package = tmp_path / "deferred_pkg_for_test"
    package.mkdir()
    (package / "__init__.py").write_text("import sys\nsys.ran_deferred_index = True\nvalue = 42\n", encoding="utf-8")
    (package / "sub.py").write_text("from deferred_pkg_for_test import value\nhalf = value // 2\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "ran_deferred_index", False, raising=False)
    from agent import lazy_sdk_types

    try:
        lazy_sdk_types.defer_package("deferred_pkg_for_test")
        package = importlib.import_module("deferred_pkg_for_test")  # (a name made here: deptry need not know it)

        assert sys.ran_deferred_index is False  # imported, its __init__ not run yet
        assert package.value == 42 and sys.ran_deferred_index is True
        assert importlib.import_module("deferred_pkg_for_test.sub").half == 21
        with pytest.raises(AttributeError):
            package.missing  # noqa: B018
    finally:
        for name in ("deferred_pkg_for_test", "deferred_pkg_for_test.sub"):
            sys.modules.pop(name, None)


ATROPOS_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import rl.atropos
print("wandb.sdk" in sys.modules)
import wandb
print(wandb.Table.__module__)
"""


def test_rl_atropos_leaves_wandb_unbuilt_until_it_is_used():
    """atroposlib imports wandb at its top; hermes' Atropos envs build it only when it is called."""
    pytest.importorskip("atroposlib")
    proc = subprocess.run([sys.executable, "-c", ATROPOS_CHILD, str(ROOT)], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["False", "wandb.sdk.data_types.table"]
