"""Two example Atropos environments over a JSONL dataset (`--env.dataset FILE`), runnable as

    python -m rl.envs terminal process|serve|evaluate --env.dataset tasks.jsonl --env.tokenizer_name DIR ...
    python -m rl.envs qa       process|serve|evaluate --env.dataset qa.jsonl    --env.tokenizer_name DIR ...

- `terminal`: rows `{"prompt": ..., "check": "shell command"}`; the reward is 1.0 when the check
  command exits 0 in the rollout's own sandbox (where the agent worked), else 0.0.
- `qa`: rows `{"question": ..., "answer": ...}`; the reward is 1.0 when the final answer contains
  the expected answer (case and surrounding spaces ignored), else 0.0.
Items are served in order, round robin; `evaluate` runs every row once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.errors import ConfigError
from rl.atropos import HermesEnv, HermesEnvConfig
from rl.runner import RolloutContext
from rl.types import RolloutSpec


class DatasetEnvConfig(HermesEnvConfig):
    dataset: str = Field(default="", description="JSONL file of tasks, one object per line")


def load_dataset(name: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a JSONL task file; a bad file is one ConfigError line (file:line, what, the fix)."""
    if not name:
        raise ConfigError("no dataset: pass --env.dataset FILE (JSONL, one task object per line)")
    path = Path(name)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--env.dataset {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--env.dataset {path}: not UTF-8 text (expected JSONL, one task object per line)") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno}); "
                              "expected one task object per line") from None
        missing = [key for key in required if not isinstance(row, dict) or key not in row]
        if missing:
            raise ConfigError(f"{path}:{number}: missing {', '.join(missing)} (each line needs "
                              f"{', '.join(required)})")
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no tasks (expected JSONL, one task object per line)")
    return rows


class _DatasetEnv(HermesEnv):
    env_config_cls = DatasetEnvConfig
    required: tuple[str, ...] = ()

    async def setup(self) -> None:
        await super().setup()
        self.rows, self._next = load_dataset(self.config.dataset, self.required), 0

    async def get_item(self) -> dict[str, Any]:
        row = self.rows[self._next % len(self.rows)]
        self._next += 1
        return row

    async def eval_items(self) -> list[Any]:
        return list(self.rows)


class TerminalCheckEnv(_DatasetEnv):
    name = "hermes_terminal_check"
    required = ("prompt", "check")

    async def score(self, item: dict[str, Any], ctx: RolloutContext) -> float:
        return 1.0 if (await ctx.aexec(item["check"])).exit_code == 0 else 0.0


class QAEnv(_DatasetEnv):
    name = "hermes_qa"
    required = ("question", "answer")

    def build_spec(self, item: dict[str, Any]) -> RolloutSpec:
        return super().build_spec({"prompt": item["question"]})

    async def score(self, item: dict[str, Any], ctx: RolloutContext) -> float:
        expected = str(item["answer"]).strip().lower()
        return 1.0 if expected and expected in (ctx.final_response or "").lower() else 0.0


ENVS = {"terminal": TerminalCheckEnv, "qa": QAEnv}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ENVS:
        sys.stderr.write(f"usage: python -m rl.envs {{{'|'.join(ENVS)}}} process|serve|evaluate --env.dataset FILE ...\n")
        sys.exit(2)
    ENVS[sys.argv.pop(1)].cli()
