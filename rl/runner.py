"""One rollout = hermes' own AIAgent + its sandbox (a task_id of its own) + its tokens + a reward.

    async with-free use, from a framework's event loop:
        result = await rollout(RolloutSpec(prompt="..."), proxy=proxy, verify=check)
    or blocking:
        result = rollout_sync(RolloutSpec(prompt="..."), proxy=proxy, verify=check)

The agent runs in a thread (hermes is synchronous; its tools are subprocesses, so threads do not
contend on the GIL). The verifier runs after the agent and before the sandbox is cleaned up, so it
can run the task's tests where the agent worked: `verify(ctx) -> float` (sync or async) with
`ctx.exec(command)` / `await ctx.aexec(command)`.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl.types import RolloutResult, RolloutSpec, TokenSequence

Verifier = Callable[["RolloutContext"], "float | Awaitable[float]"]

# A window no prompt reaches: hermes' automatic compression (a summary call through the same
# endpoint, and a rewritten history) never triggers. The settings cap compress_threshold at 1.
_NO_COMPRESSION_WINDOW = 1 << 62


@dataclass
class RolloutContext:
    """What a verifier sees: the finished rollout and its still-live sandbox."""

    spec: RolloutSpec
    task_id: str
    workdir: Path
    result: RolloutResult
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_response(self) -> str | None:
        return self.result.final_response

    def exec(self, command: str, timeout: float | None = None) -> Any:
        """Run `command` in this rollout's own terminal environment (cwd and shell state it left);
        returns tools.environments.base.ExecResult (output, exit_code, timed_out)."""
        from tools.environments import manager

        env = manager.get_environment(self.task_id)
        return env.execute(command, timeout=timeout or manager.default_timeout())

    async def aexec(self, command: str, timeout: float | None = None) -> Any:
        return await asyncio.to_thread(self.exec, command, timeout)


class Rollout:
    """One rollout's lifecycle: start (agent, sandbox, token tracking), run, verify, clean up."""

    def __init__(self, spec: RolloutSpec, *, proxy: Any = None, verify: Verifier | None = None,
                 executor: Executor | None = None, tokenizer: Any = None) -> None:
        if proxy is None and spec.base_url is None:
            raise ValueError("a rollout needs proxy= (a TokenProxy) or spec.base_url (an OpenAI endpoint)")
        self.spec = spec
        self.proxy = proxy
        self.verify = verify
        # asyncio's default pool has min(32, cpus + 4) threads: size one for group_size x concurrent groups
        self.executor = executor
        # without a proxy: the policy's tokenizer turns the ids the endpoint returned (session log)
        # into sequences, as `hermes export --format rollout` does
        self.tokenizer = tokenizer
        self.task_id = spec.task_id or f"rl-{uuid.uuid4().hex[:12]}"
        self._own_workdir = spec.workdir is None
        self.workdir = Path(spec.workdir) if spec.workdir is not None else None
        self.agent: Any = None

    # -- blocking steps (each runs in a worker thread under `run`) ---------------------------------------
    def _start(self) -> None:
        from run_agent import AIAgent
        from tools.environments import manager

        spec = self.spec
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"hermes-{self.task_id}-"))
        manager.configure_task(self.task_id, cwd=str(self.workdir))  # this rollout's own start directory
        base_url = self.proxy.open(self.task_id) if self.proxy is not None else spec.base_url
        settings = None
        if spec.terminal_backend:
            from agent.settings import with_overrides

            settings = with_overrides(None, {"terminal.backend": spec.terminal_backend}, "RolloutSpec(...)")
        self.agent = AIAgent(
            model=spec.model, base_url=base_url, api_key=spec.api_key, settings=settings,
            enabled_toolsets=list(spec.toolsets), max_turns=spec.max_turns, system_prompt=spec.system_prompt,
            stream=spec.stream, task_id=self.task_id, log_directory=spec.log_dir, record=spec.record, mode="rl",
            request_params=dict(spec.sampling), token_capture=self.proxy is None,
            context_window=spec.context_window, approval_mode=spec.approval_mode,
        )
        if not spec.compression:
            self.agent.context.window = _NO_COMPRESSION_WINDOW

    def _run_agent(self) -> RolloutResult:
        from tools.environments import manager

        started = time.perf_counter()
        try:
            self._start()
            spec = self.spec
            if spec.messages is not None:
                *history, last = spec.messages
                out = self.agent.run_conversation(last.get("content") or "", conversation_history=list(history))
            else:
                out = self.agent.run_conversation(spec.prompt)
        except Exception as exc:  # a failed start (bad settings, backend down): a result, not a crash
            out = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "final_response": None,
                   "messages": [], "api_calls": 0, "turns": 0}
            if self.agent is None:
                manager.cleanup_environment(self.task_id)
        seconds = time.perf_counter() - started
        return self._result(out, seconds)

    def _result(self, out: dict[str, Any], seconds: float) -> RolloutResult:
        sequences, calls, source, error = [], [], "none", out.get("error")
        first_prompt: list[int] | None = None
        if self.proxy is not None:
            source = "proxy"
            try:
                first_prompt = self.proxy.peek(self.task_id).first_prompt_ids
                sequences, calls = self.proxy.take(self.task_id)
            except KeyError:
                pass  # never opened: the start failed before
        elif self.tokenizer is not None and self.agent is not None and self.agent.session_paths is not None:
            try:
                sequences, source = self._native_sequences()
            except Exception as exc:  # RolloutError (ids outside the vocabulary, a secret), ConfigError
                error = error or f"no token sequences: {exc}"
        messages = list(out.get("messages") or [])
        from recording.reader import SUMMARY_PREFIX

        compressed = any(isinstance(m.get("content"), str) and m["content"].startswith(SUMMARY_PREFIX)
                         for m in messages)
        tool_calls = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
        metrics = {"seconds": round(seconds, 4), "api_calls": float(out.get("api_calls") or 0),
                   "turns": float(out.get("turns") or 0), "tool_calls": float(tool_calls),
                   "trained_tokens": float(sum(s.trained_tokens for s in sequences))}
        return RolloutResult(
            task_id=self.task_id, status=out.get("status") or "error", final_response=out.get("final_response"),
            messages=messages, sequences=sequences, calls=calls, error=error,
            session_id=out.get("session_id"), token_source=source,
            compressed=compressed, first_prompt_ids=first_prompt, metrics=metrics)

    def _native_sequences(self) -> tuple[list[TokenSequence], str]:
        """Sequences from the session log's recorded ids (exports.rollout.RolloutBuilder)."""
        from exports.rollout import NO_LOGPROB, RolloutBuilder
        from exports.source import load_trajectory
        from rl.tracker import load_chat_tokenizer

        self.agent.flush()
        records = RolloutBuilder(load_chat_tokenizer(self.tokenizer)).records(
            load_trajectory(self.agent.session_paths[0]))
        sequences = []
        for r in records:
            known = all(lp != NO_LOGPROB for lp, m in zip(r["logprobs"], r["loss_mask"], strict=True) if m)
            sequences.append(TokenSequence(
                tokens=r["tokens"], mask=r["loss_mask"], prompt_len=r["prompt_len"], calls=len(r["calls"]),
                logprobs=[lp if m else 0.0 for lp, m in zip(r["logprobs"], r["loss_mask"], strict=True)] if known else None,
                finish_reason=r["finish_reason"]))
        sources = {r["token_source"] for r in records}
        return sequences, (sources.pop() if len(sources) == 1 else "mixed") if sources else "none"

    def _context(self, result: RolloutResult) -> RolloutContext:
        return RolloutContext(self.spec, self.task_id, self.workdir or Path("."), result)

    def _cleanup(self) -> None:
        from tools.environments import manager

        if self.agent is not None:
            self.agent.close("rl_done")
        else:
            manager.cleanup_environment(self.task_id)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- entry points ---------------------------------------------------------------------------------------
    def run_sync(self) -> RolloutResult:
        """Run the rollout in this thread: agent, verifier (in the live sandbox), cleanup."""
        result = self._run_agent()
        try:
            if self.verify is not None:
                started = time.perf_counter()
                value = self.verify(self._context(result))
                if inspect.isawaitable(value):
                    value = asyncio.run(_awaited(value))
                result.reward = float(value)
                result.metrics["verify_seconds"] = round(time.perf_counter() - started, 4)
        finally:
            self._cleanup()
        return result

    async def run(self) -> RolloutResult:
        """Run the rollout from an event loop: the agent in a worker thread, the verifier before cleanup."""
        from agent import llm
        from rl.backends import is_async

        llm.import_openai()  # here, once: concurrent first imports in threads see a half-made module
        if self.proxy is not None and self.proxy.loop is None and is_async(self.proxy.generate):
            self.proxy.loop = asyncio.get_running_loop()  # the framework's generate runs on its own loop
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, self._run_agent)
        try:
            if self.verify is not None:
                started = time.perf_counter()
                if inspect.iscoroutinefunction(self.verify):
                    value = await self.verify(self._context(result))
                else:
                    value = await asyncio.to_thread(self.verify, self._context(result))
                    if inspect.isawaitable(value):
                        value = await value
                result.reward = float(value)
                result.metrics["verify_seconds"] = round(time.perf_counter() - started, 4)
        finally:
            await loop.run_in_executor(self.executor, self._cleanup)
        return result


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value


async def rollout(spec: RolloutSpec, *, proxy: Any = None, verify: Verifier | None = None,
                  executor: Executor | None = None, tokenizer: Any = None) -> RolloutResult:
    """Run one rollout from an event loop (see module docstring); `executor` runs the agent (default:
    the loop's default thread pool); `tokenizer` (no proxy) builds sequences from returned ids."""
    return await Rollout(spec, proxy=proxy, verify=verify, executor=executor, tokenizer=tokenizer).run()


def rollout_sync(spec: RolloutSpec, *, proxy: Any = None, verify: Verifier | None = None,
                 tokenizer: Any = None) -> RolloutResult:
    """Run one rollout, blocking (see module docstring)."""
    return Rollout(spec, proxy=proxy, verify=verify, tokenizer=tokenizer).run_sync()
