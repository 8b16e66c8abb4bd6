"""Runs a dataset of prompts through the agent concurrently, one sample per terminal task.

Samples run on a thread pool: each is a synchronous agent loop that mostly waits on the endpoint
or a command, so threads give real concurrency, and all samples share one SDK client (one
connection pool). A finished sample is written at once (see store.py); a sample that overruns its
time limit is interrupted, which kills its running command, and recorded as failed.
`--driver asyncio` runs the same per-sample generator (`sample_steps`) on one event loop instead
(batch/aio.py).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import toolset_distributions
from batch.aio import CLIENT_SHARE, pick_driver, run_samples
from batch.dataset import Sample
from batch.notes import note_sample
from batch.stats import ToolTally, run_statistics
from batch.store import RunStore, read_records, write_json_atomic
from batch.verifier import run_verifier
from batch.watchdog import Watchdog
from batch.workdirs import SampleDir, needs_own_dir


@dataclass
class BatchConfig:
    run_name: str
    dataset: Path
    output_root: Path = Path("data")
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    num_workers: int = 4
    max_turns: int = 10
    sample_timeout: float = 600.0
    ephemeral_system_prompt: str | None = None
    distribution: dict[str, float] = field(default_factory=lambda: dict(toolset_distributions.DISTRIBUTIONS["default"]))
    distribution_name: str = "default"
    seed: int = 0
    resume: bool = False
    retry_failed: bool = False
    token_capture: bool = False
    yolo: bool = False
    n: int = 1  # samples per prompt (a group)
    # temperature / top_p / seed / max_tokens for every request (a row's own values win); with a
    # seed, sample j of a prompt is sent seed + j, so the K samples differ and each is reproducible
    sampling: dict[str, Any] = field(default_factory=dict)
    verify: str | None = None  # verifier command for rows without their own `verify`
    verify_timeout: float = 300.0
    shard: tuple[int, int] | None = None  # (i, N): this run holds the rows of shard i of N
    driver: str = "auto"  # "threads", "asyncio" (batch/aio.py) or "auto" (by --num-workers)
    # The process's settings (config, .env, environment), loaded by `hermes batch`; None: loaded here.
    # The fields above that a flag sets are applied on top (max_turns, token_capture, yolo, endpoint).
    settings: Any = field(default=None, repr=False)
    endpoint: Any = None  # agent.endpoint.Endpoint, resolved once by `hermes batch`

    def agent_settings(self) -> Any:
        """The settings every sample's agent is built with: loaded once, flags applied once."""
        from agent.settings import load_settings

        settings = self.settings or load_settings(
            {"model": self.model, "base_url": self.base_url, "api_key": self.api_key}, export_dotenv=False)
        settings.set("agent.max_turns", self.max_turns, "flag --max-turns")
        if self.token_capture:
            settings.set("agent.token_capture", True, "flag --rollout")
        if self.yolo:
            settings.set("approvals.mode", "yolo", "flag --yolo")
        elif settings.source("approvals.mode") == "default":
            # Nobody answers prompts in a batch, and `ask` would deny every file edit: samples would
            # be crippled. Edits inside the workspace run; dangerous commands are still denied.
            settings.set("approvals.mode", BATCH_APPROVAL_MODE, "hermes batch default")
        return settings


BATCH_APPROVAL_MODE = "auto-edit"  # approvals.mode of `hermes batch` unless config/env/flag set one


@dataclass
class Progress:
    """What the progress display shows; updated by the runner as samples finish."""

    total: int = 0
    done: int = 0
    failed: int = 0
    tokens: int = 0


@dataclass
class Outcome:
    sample: Sample
    ok: bool
    record: dict[str, Any]


class BatchRunner:
    def __init__(self, config: BatchConfig, samples: list[Sample],
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.config = config
        self.samples = samples
        self.store = RunStore(config.output_root / config.run_name)
        self.progress = Progress()
        self._on_progress = on_progress or (lambda progress: None)
        self._clients: list[Any] = []  # SDK clients of the thread-pool driver (_thread_client)
        self._known_tools: list[str] = []
        self._stop = threading.Event()
        self._live: set[Any] = set()
        self._live_lock = threading.Lock()
        self._watchdog = Watchdog()
        self._stats: dict[str, Any] | None = None
        self._local = threading.local()
        self._dealt = itertools.count()

    # -- planning ------------------------------------------------------------------------------
    def pending(self) -> list[Sample]:
        skip = set(self.store.completed_keys)
        if not self.config.retry_failed:
            skip |= self.store.failed_keys
        return [s for s in self.samples if s.key not in skip]

    def toolsets_for(self, sample: Sample) -> list[str]:
        if sample.toolsets:
            return sample.toolsets
        # Seeded by the row's key: a resumed run draws the same toolsets for the same prompt, and
        # the K samples of a prompt (one group) get the same tools, so their rewards compare.
        rng = random.Random(f"{self.config.seed}:{sample.group or sample.key}")
        return toolset_distributions.sample_toolsets(self.config.distribution, rng)

    def request_params(self, sample: Sample) -> dict[str, Any]:
        """Sampling parameters sent with every call of this sample (see BatchConfig.sampling)."""
        params = {**self.config.sampling, **sample.sampling}
        if "seed" in params:
            params["seed"] = int(params["seed"]) + sample.sample
        return params

    # -- running -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        import model_tools
        from agent.endpoint import resolve_endpoint
        from recording.redact import shared as shared_redactor

        self.store.open(resume=self.config.resume or self.config.retry_failed)
        try:
            self.store.write_manifest(self._manifest())
        except BaseException:
            self.store.close()
            raise
        self._settings = self.config.agent_settings()
        # Once for the run, never per sample.
        self._endpoint = self.config.endpoint or resolve_endpoint(self._settings)
        # The run's secrets (its API key, the environment's) are read once: every session log and
        # record of the run is redacted by this one redactor, which remembers long texts.
        self._redact = shared_redactor([self._endpoint.api_key])
        self._known_tools = sorted(model_tools.load_tools())
        todo = self.pending()
        self.progress = Progress(total=len(todo))
        self._on_progress(self.progress)
        started = time.perf_counter()
        try:
            if pick_driver(self.config.driver, self._endpoint.base_url) == "asyncio":
                try:
                    run_samples(self, todo)
                except KeyboardInterrupt:
                    self._stop.set()
                    self._interrupt_live()
                    raise
                return self._stats_after(started)
            with ThreadPoolExecutor(max_workers=max(1, self.config.num_workers), thread_name_prefix="sample") as pool:
                futures = [pool.submit(self._run_sample, sample) for sample in todo]
                try:
                    for future in as_completed(futures):
                        self._finish(future.result())
                except KeyboardInterrupt:
                    self._stop.set()
                    for future in futures:
                        future.cancel()
                    self._interrupt_live()
                    raise
        finally:
            if self._stats is None:
                self._stats_after(started)
        return self._stats

    def _stats_after(self, started: float) -> dict[str, Any]:
        """Checkpoint, statistics.json, close the store: once, however the run ended."""
        self.store.write_checkpoint()
        self._stats = self._write_statistics(time.perf_counter() - started, self.progress.done + self.progress.failed)
        self.store.close()
        self._watchdog.close()
        return self._stats

    def _manifest(self) -> dict[str, Any]:
        """run.json: what `hermes batch merge` needs to check shards against the dataset."""
        from batch.merge import dataset_digest

        shard = self.config.shard
        return {"run_name": self.config.run_name, "dataset": str(Path(self.config.dataset).resolve()),
                "dataset_sha256": dataset_digest(Path(self.config.dataset)), "n": self.config.n,
                "shard": f"{shard[0]}/{shard[1]}" if shard else None, "sampling": self.config.sampling}

    def _interrupt_live(self) -> None:
        with self._live_lock:
            for agent in list(self._live):
                agent.interrupt()

    def _finish(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.store.add_completed(outcome.record)
            self.progress.done += 1
        else:
            self.store.add_failed(outcome.record)
            self.progress.failed += 1
        self.progress.tokens += int(outcome.record.get("usage", {}).get("total_tokens", 0))
        self._on_progress(self.progress)

    def _thread_client(self) -> Any:
        """The SDK client of this worker thread (the thread-pool driver; the asyncio one has its own).

        Stall and deadline timeouts are set per call from each agent's retry policy (agent/llm.py).
        httpcore scans every pooled connection (a poll() syscall each) on every request: with a
        thousand threads on one client that scan was most of a sample's CPU. So a client (pool) per
        CLIENT_SHARE threads, made when first dealt; each thread keeps the one it was dealt."""
        from agent import llm

        client = getattr(self._local, "client", None)
        if client is None:
            with self._live_lock:
                index = next(self._dealt) // CLIENT_SHARE
                while len(self._clients) <= index:
                    self._clients.append(llm.make_client(self._endpoint.base_url, self._endpoint.api_key))
                client = self._local.client = self._clients[index]
        return client

    def _run_sample(self, sample: Sample) -> Outcome:
        """One sample in this thread (the thread-pool driver)."""
        from agent import steps

        return steps.run_sync(self.sample_steps(sample, self._thread_client()))

    def sample_steps(self, sample: Sample, client: Any = None) -> Any:
        """One sample, start to record, as a generator of I/O effects (agent/steps.py): the
        thread-pool driver runs it in its thread with its SDK `client`, the asyncio one
        (batch/aio.py) on the event loop, where model calls go through its own client."""
        from functools import partial

        import model_tools
        from agent import steps
        from agent.errors import HermesError
        from hermes_cli.agent_factory import load_images, make_agent
        from recording.sharegpt import to_sharegpt

        if self._stop.is_set():
            return Outcome(sample, False, self._failure(sample, [], "interrupted", "the run was stopped"))
        from tools.environments.manager import configure_task

        chosen = self.toolsets_for(sample)
        task_id = f"batch-{self.config.run_name}-{sample.index}" + (f"-{sample.sample}" if sample.sample else "")
        workdir = None
        tally = ToolTally()
        started = time.perf_counter()
        timed_out = threading.Event()
        agent = None
        params = self.request_params(sample)
        verdict = None
        try:
            if needs_own_dir(self.config.n, self._settings.terminal.backend):
                workdir = yield steps.Blocking(partial(SampleDir, sample.cwd))  # a copy of the row's cwd
            if sample.cwd or sample.image or workdir:
                configure_task(task_id, cwd=workdir.path if workdir else sample.cwd, image=sample.image)
            agent = make_agent(
                self._settings, endpoint=self._endpoint, mode="batch", enabled_toolsets=chosen,
                ephemeral_system_prompt=self.config.ephemeral_system_prompt, on_event=tally.on_event,
                log_directory=self.store.sessions, task_id=task_id, request_params=params,
                client=client, sdk_client=client is not None, redactor=self._redact,
            )
            with self._live_lock:
                self._live.add(agent)

            def overrun() -> None:
                timed_out.set()
                agent.interrupt()

            timer = self._watchdog.arm(self.config.sample_timeout, overrun)
            try:
                result = yield from agent.conversation_steps(sample.prompt, images=load_images(sample.images))
            finally:
                timer.cancel()
            command = sample.verify or self.config.verify
            if command and not timed_out.is_set() and not self._stop.is_set():
                # before clean-up; Ctrl-C (the agent's interrupt) stops it too
                verdict = yield steps.Blocking(partial(run_verifier, task_id, command, self.config.verify_timeout,
                                                       agent.interrupt_event))
            note_sample(agent, group=sample.group or sample.key, sample=sample.sample, n=self.config.n,
                        prompt_index=sample.index, reward=verdict.reward if verdict else None)
        except HermesError as exc:
            return Outcome(sample, False, self._failure(sample, chosen, "setup", str(exc)))
        except Exception as exc:  # a bug must cost one sample, not the run (and the others' results)
            return Outcome(sample, False, self._failure(sample, chosen, "crash", f"{type(exc).__name__}: {exc}"))
        finally:
            if agent is not None:
                with self._live_lock:
                    self._live.discard(agent)
            # nothing to stop (no shell, browser or copied cwd): closing the log is quick
            yield steps.Blocking(partial(_clean_up, agent, task_id, workdir),
                                 quick=workdir is None and model_tools.cleanup_is_quick(task_id))
        status = "timeout" if timed_out.is_set() else result["status"]
        record = {
            "conversations": to_sharegpt(result["messages"], agent.tools),
            "timestamp": datetime.now().isoformat(timespec="seconds"),
            "model": agent.model,
            "completed": status == "success",
            "prompt_index": sample.index,
            "metadata": {**sample.metadata, "run_name": self.config.run_name,
                         "distribution": self.config.distribution_name},
            "partial": status != "success",
            "api_calls": result["api_calls"],
            "toolsets_used": chosen,
            "tool_stats": tally.tool_stats(self._known_tools),
            "tool_error_counts": tally.error_counts(self._known_tools),
            "sample_key": sample.key,
            "group_id": sample.group or sample.key,
            "sample_index": sample.sample,
            "sampling": params,
            "reward": verdict.reward if verdict else None,
            **({"verifier": verdict.record()} if verdict else {}),
            "session_id": result["session_id"],
            "usage": {k: int(v) for k, v in result["usage"].items() if isinstance(v, (int, float))},
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
        redact = self._redact
        record = _redacted(record, redact)
        if status != "success":
            error = f"no answer within {self.config.sample_timeout:g} s" if status == "timeout" else result["error"]
            record.update(reason=status, error=redact(error or status))
            return Outcome(sample, False, record)
        return Outcome(sample, True, record)

    def _failure(self, sample: Sample, chosen: list[str], reason: str, error: str) -> dict[str, Any]:
        return {"sample_key": sample.key, "prompt_index": sample.index, "group_id": sample.group or sample.key,
                "sample_index": sample.sample, "toolsets_used": chosen,
                "reason": reason, "error": error, "completed": False, "partial": True,
                "timestamp": datetime.now().isoformat(timespec="seconds")}

    def _write_statistics(self, wall_seconds: float, ran_now: int) -> dict[str, Any]:
        header = {"run_name": self.config.run_name, "dataset": str(self.config.dataset),
                  "model": self.config.model, "distribution": self.config.distribution_name,
                  "dataset_samples": len(self.samples)}
        stats = run_statistics(read_records(self.store.trajectories), read_records(self.store.failed),
                               wall_seconds=wall_seconds, ran_now=ran_now, header=header)
        write_json_atomic(self.store.statistics, stats)
        return stats


def _clean_up(agent: Any, task_id: str, workdir: SampleDir | None) -> None:
    """After a sample (blocking: kills its processes, removes its files)."""
    import model_tools

    if agent is not None:
        agent.close()
    model_tools.cleanup_vm(task_id)
    if workdir is not None:
        workdir.remove()


def _redacted(record: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """The record with every secret redacted; turn by turn, so a turn every sample shares (the
    system prompt with its tool list) is redacted once per run (`Redactor` remembers long texts).
    A part redaction leaves alone is kept as it is, not parsed back."""
    rest = {k: v for k, v in record.items() if k != "conversations"}
    return {"conversations": [_redacted_part(turn, redact) for turn in record["conversations"]],
            **_redacted_part(rest, redact)}


def _redacted_part(part: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    import json

    text = json.dumps(part, ensure_ascii=False)
    done = redact(text)
    return part if done == text else json.loads(done)
