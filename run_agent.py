"""AIAgent: the conversation loop. Ask the model, run the tools it calls, repeat until it answers.

    agent = AIAgent(model="...", enabled_toolsets=["terminal"])
    print(agent.chat("What is 6*7? Use the terminal."))

The loop never prints. It reports through `on_event` (see agent/events.py) and records every
message and LLM call to the session log (see recording/recorder.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import model_tools
from agent import checkpoints, compression, context_files, extensions, history, llm, steps, unicode_text
from agent import images as media
from agent.cancel import cut as cut_model_calls
from agent.endpoint import Endpoint, discover_model, resolve_endpoint
from agent.errors import Interrupted, LLMError
from agent.events import (
    Event,
    Notice,
    ReasoningDelta,
    Retrying,
    StreamReset,
    TextDelta,
    Warn,
)
from agent.hooks import HookBlocked
from agent.interruption import interrupted_answer, interrupted_results
from agent.loop_guard import LoopGuard
from agent.prompts import build_system_prompt
from agent.retry import (
    RetryPolicy,
    describe_error,
    is_retryable,
    retry_after_seconds,
    status_code,
)
from agent.session_resume import ResumedSession, load_history
from agent.settings import Settings, with_overrides
from agent.settings import retry_policy as settings_retry_policy
from agent.tool_calls import has_text_tool_calls
from agent.tool_runner import ToolRunner
from recording.paths import new_session_id
from recording.recorder import SessionRecorder
from recording.sharegpt import append_trajectory
from tools import todo_tool
from tools.registry import ToolContext


class AIAgent:
    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        settings: Settings | None = None,
        endpoint: Endpoint | None = None,
        enabled_toolsets: list[str] | None = None,
        disabled_toolsets: list[str] | None = None,
        max_iterations: int | None = None,
        max_turns: int | None = None,
        system_prompt: str | None = None,
        personality: str | None = None,
        ephemeral_system_prompt: str | None = None,
        stream: bool | None = None,
        on_event: Callable[[Event], None] | None = None,
        session_id: str | None = None,
        log_directory: Path | None = None,
        record: bool = True,
        mode: str = "api",
        task_id: str | None = None,
        approve: Callable[[str, str], bool] | None = None,
        yolo: bool | None = None,
        approval_mode: str | None = None,
        retry_policy: RetryPolicy | None = None,
        request_params: dict[str, Any] | None = None,
        token_capture: bool | None = None,
        save_trajectories: bool = False,
        resume: Path | None = None,
        context_window: int | None = None,
        compress_threshold: float | None = None,
        client: Any = None,
        sdk_client: bool = True,
        redactor: Any = None,
        hooks: Any = None,
        stall_timeout: float | None = None,
        **_seed_compat: Any,  # quiet_mode, verbose_logging, tool_delay, log_prefix: accepted, unused
    ) -> None:
        # settings: the front end's (agent/settings); None loads them as `hermes` would (files, .env,
        # environment). Keyword arguments given here override them. endpoint: resolved once by the
        # front end; None resolves it from the settings.
        # resume: continue that session log's conversation, appending to its files (agent/session_resume.py).
        # client: an SDK client to share (the batch runner gives every sample one connection pool).
        # sdk_client=False: the driver makes the model calls on its own client (batch's asyncio one);
        # an SDK client is made only if something else needs one (compression's summary).
        # redactor: what the session log is redacted with (recording/redact.py); a batch run makes one
        # for all its samples; None: one for the API key and the environment's secrets.
        # retry_policy: replaces the one built from the model.* settings (retries, deadline, stall timeout).
        settings = with_overrides(settings, {
            "model.default": model, "model.base_url": base_url, "model.api_key": api_key,
            "agent.max_turns": max_turns if max_turns is not None else max_iterations,
            "agent.system_prompt": system_prompt,
            "agent.stream": stream, "agent.token_capture": token_capture,
            "agent.context_window": context_window, "agent.compress_threshold": compress_threshold,
            "approvals.mode": "yolo" if yolo else approval_mode, "model.stall_timeout": stall_timeout,
        })
        if endpoint is None or any(v is not None for v in (model, base_url, api_key)):
            endpoint = resolve_endpoint(settings)
        self.settings = settings
        from tools import tool_settings

        tool_settings.configure(settings)  # tools (their availability checks too) and backends read theirs here
        self._resumed: ResumedSession | None = load_history(Path(resume)) if resume is not None else None
        if self._resumed is not None:
            session_id, log_directory = self._resumed.session_id, self._resumed.directory
        self.endpoint = endpoint
        self.model = self.endpoint.model
        if enabled_toolsets is None and disabled_toolsets is None:
            enabled_toolsets, disabled_toolsets = settings.enabled_toolsets, settings.disabled_toolsets or None
        self.tools = model_tools.get_tool_definitions(enabled_toolsets, disabled_toolsets)
        self.tool_names = {t["function"]["name"] for t in self.tools}
        self.enabled_toolsets = enabled_toolsets or ["all"]
        self.max_iterations = settings.agent.max_turns
        if personality is None and settings.agent.personality:
            from agent.personalities import resolve_personality

            personality = resolve_personality(settings.agent.personality, settings.agent.personalities)
        self.on_event = on_event or (lambda event: None)
        self.project_context = context_files.load_for(settings, mode, self.on_event)  # AGENTS.md & co (issue 18)
        self.system_prompt = build_system_prompt(settings.agent.system_prompt, personality, with_tools=bool(self.tools),
                                                 cwd=settings.terminal.cwd, context=self.project_context.prompt_section())
        self.ephemeral_system_prompt = ephemeral_system_prompt
        self.stream = settings.agent.stream
        self.session_id = session_id or new_session_id()
        self.task_id = task_id or self.session_id
        self.retry_policy = retry_policy or settings_retry_policy(settings)
        self.request_params = dict(request_params or {})
        self.token_capture = settings.agent.token_capture
        self.save_trajectories = save_trajectories
        self.messages: list[dict[str, Any]] = list(self._resumed.messages) if self._resumed else []
        self.context = compression.ContextBudget(settings.agent.context_window, settings.agent.compress_threshold)
        self.usage: dict[str, float] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        self.api_calls = 0
        self._record = record
        self._log_directory = log_directory
        self._mode = mode
        self._recorder: SessionRecorder | None = None
        self._client, self._sdk_client = client, sdk_client
        self._redactor = redactor
        self._client_lock = threading.Lock()
        self._interrupt = threading.Event()
        self._active_stream: Any = None
        self._partial: list[str] = []  # the answer text streamed by the model call under way (kept on Ctrl-C)
        self._tool_ctx = ToolContext(task_id=self.task_id, interrupt=self._interrupt, approve=approve,
                                     yolo=settings.approvals.mode == "yolo", approval_mode=settings.approvals.mode,
                                     terminal=settings.terminal,
                                     checkpoints=checkpoints.for_agent(settings, record=record, mode=mode))
        self._tool_runner = ToolRunner(self)  # hooks, loop guard, dispatch (agent/tool_runner.py)
        # Issue 17: lifecycle hooks (agent/hooks.py; those of the settings unless given) and MCP tools,
        # which join self.tools as their servers connect (agent/extensions.py).
        self.hooks = hooks if hooks is not None else extensions.hooks_for(settings)
        self.disabled_toolsets = disabled_toolsets

    # -- public API ------------------------------------------------------------------------------
    def chat(self, message: str) -> str:
        """Send one user message, continuing this agent's conversation; return the final answer."""
        result = self.run_conversation(message, conversation_history=self.messages)
        if result["status"] not in ("success",):
            raise LLMError(result["error"] or result["status"])
        return result["final_response"]

    def interrupt(self) -> None:
        """Stop the in-flight model call or tool process (safe to call from another thread; a model
        call still waiting for its first byte is cut too: agent/cancel.py)."""
        self._interrupt.set()
        cut_model_calls(self._interrupt)
        stream = self._active_stream
        if stream is not None:
            try:
                stream.close()  # unblocks a read waiting on the network
            except Exception:
                pass

    @property
    def session_paths(self) -> tuple[Path, Path] | None:
        rec = self._recorder
        return (rec.event_log, rec.session_file) if rec else None

    def close(self, status: str = "closed") -> None:
        if self._recorder is not None:
            self._recorder.close(status, usage=self.usage, api_calls=self.api_calls)
        model_tools.cleanup_vm(self.task_id)

    def flush(self) -> None:
        """Wait until the session file shows everything recorded so far (before exporting it)."""
        if self._recorder is not None:
            self._recorder.flush()

    # -- for front ends (REPL) -------------------------------------------------------------------
    def ensure_client(self) -> Any:
        """Create the SDK client now (the REPL does this in the background while the user types)."""
        with self._client_lock:  # one import of the SDK at a time: a second thread would see it half-made
            if self._client is None:
                self._client = llm.make_client(self.endpoint.base_url, self.endpoint.api_key,
                                               connect_timeout=self.retry_policy.connect_timeout)
        return self._client

    @property
    def client(self) -> Any:
        return self._client

    @property
    def tool_context(self) -> ToolContext:
        return self._tool_ctx

    @property
    def interrupt_event(self) -> threading.Event:
        return self._interrupt

    def set_model(self, name: str) -> None:
        self.model = name  # each llm_call event records the model that answered

    def set_toolsets(self, enabled: list[str] | None, disabled: list[str] | None = None) -> None:
        self.tools = model_tools.get_tool_definitions(enabled, disabled)
        self.tool_names = {t["function"]["name"] for t in self.tools}
        self.enabled_toolsets = enabled or ["all"]
        self.disabled_toolsets = disabled
        if self._recorder is not None:  # exports need the tools the model saw from here on
            self._recorder.record_event("tools_changed", toolsets=self.enabled_toolsets, tools=self.tools)

    # -- history edits (agent/history.py, agent/compression.py) -----------------------------------
    def undo(self) -> list[dict[str, Any]]:
        """Remove the last exchange (the last prompt and everything after it); return what was removed."""
        removed = history.drop_last_exchange(self.messages)
        if removed:
            self.record_history_change("history_edit", action="undo", removed_count=len(removed))
        return removed

    def retry(self) -> str | None:
        """Remove the last exchange and return its prompt to send again; None if there is none."""
        removed = history.drop_last_exchange(self.messages)
        if not removed:
            return None
        self.record_history_change("history_edit", action="retry", removed_count=len(removed))
        return history.prompt_text(removed[0])

    def reset(self, new_session: bool = True) -> None:
        """Start a fresh conversation: by default as a new session (new id, new log files)."""
        if not new_session:
            removed, self.messages = len(self.messages), []
            if removed:
                self.record_history_change("history_edit", action="reset", removed_count=removed)
            return
        if self._recorder is not None:
            self._recorder.close("reset", usage=self.usage, api_calls=self.api_calls)
        # The terminal (task_id) carries on: a new conversation, same shell state.
        self._recorder, self._resumed = None, None
        self.session_id, self.messages = new_session_id(), []
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        self.api_calls = 0
        self.context.forget()
        todo_tool.restore(self.tool_context, [])  # a new conversation starts with no task list

    def compress(self, reason: str = "requested") -> compression.Compression | None:
        """Summarise older messages with one model call to free context; Notice events say what happened."""
        self._interrupt.clear()
        try:
            self._ensure_ready()
            outcome = compression.compress(self._conversation(), reason, self._summarise, before=self._pre_compact)
            return self._apply_compression(outcome)
        except (Interrupted, KeyboardInterrupt):
            self.on_event(Notice("compression interrupted; the history is unchanged"))
        except LLMError as exc:
            self.on_event(Notice(f"cannot compress: {exc}"))
        return None

    def _pre_compact(self, reason: str) -> None:
        """PreCompact hooks (issue 17): told whether the user asked or the context filled up."""
        if self.hooks:
            self.hooks.pre_compact(self, "manual" if reason.startswith("requested") else "auto")

    def _conversation(self) -> compression.Conversation:
        return compression.Conversation(self.messages, self.system_prompt, self.tools, self.context)

    def _summarise(self, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        return compression.summarise(self.ensure_client(), self.model, self.context.window, messages, self._interrupt)

    def _apply_compression(self, outcome: compression.Outcome | None) -> compression.Compression | None:
        """Take what compression decided: the new history, its record, the usage, the notice."""
        if outcome is None:
            return None
        if outcome.stuck:
            self.context.stuck_at = len(self.messages)
        if outcome.messages is not None:
            self.messages[:] = outcome.messages  # same list: callers holding it see the new history
            self.add_usage(outcome.usage)
            self.record_history_change("context_compressed", **outcome.event)
        self.on_event(Notice(outcome.notice))
        return outcome.compression

    def record_history_change(self, type_: str, **fields: Any) -> None:
        """Log an edit already made to `self.messages`, so a resumed session shows the same history."""
        self.context.forget()
        if type_ == "history_edit":  # the task list as the remaining history left it (as on resume)
            todo_tool.restore(self.tool_context, self.messages)
        if self._recorder is None and self._resumed is None:
            return  # nothing recorded yet: the first recording holds the edited history as it is
        self._ensure_recorder()
        if self._recorder is not None:
            self._recorder.record_history_change(type_, self.messages, **fields)

    def run_conversation(
        self,
        user_message: str,
        system_message: str | None = None,
        conversation_history: list[dict[str, Any]] | None = None,
        task_id: str | None = None,
        images: list[media.Image] | None = None,
    ) -> dict[str, Any]:
        """Run the tool loop for one user message (with `images`: content parts). Never raises for model or tool failures."""
        return steps.run_sync(self.conversation_steps(user_message, system_message, conversation_history,
                                                            task_id, images))

    def conversation_steps(self, user_message: str, system_message: str | None = None,
                           conversation_history: list[dict[str, Any]] | None = None, task_id: str | None = None,
                           images: list[media.Image] | None = None) -> steps.Steps:
        """`run_conversation` as a generator of I/O effects (agent/steps.py): drive it with
        `steps.run_sync` or, on an event loop, `steps.run_async`. Returns the same dict."""
        self._interrupt.clear()
        if conversation_history is None and self._resumed is not None:
            conversation_history = self.messages  # a resumed agent continues its session
        if task_id:
            self.task_id = self._tool_ctx.task_id = task_id
        history = [m for m in conversation_history or [] if m.get("role") != "system"]
        user_message = unicode_text.clean(user_message)  # undecodable bytes (argv, stdin) become U+FFFD
        if system_message is not None:
            self.system_prompt = system_message
        self.messages = history
        status, final, error = "error", None, None
        turns = 0
        try:
            yield steps.Blocking(self._ensure_ready, quick=self._ready_is_quick())
            if self.hooks:  # SessionStart / UserPromptSubmit: may add context, or reject the prompt
                user_message = yield steps.Blocking(lambda: self.hooks.before_prompt(self, user_message))
            self._append({"role": "user", "content": media.user_content(user_message, images)})
            (cp := self._tool_ctx.checkpoints) and cp.begin_turn(self.session_id, self.messages)  # for /rewind
            status, final, turns = yield from self._loop()
        except HookBlocked as exc:
            status, error = "blocked", f"prompt blocked by a UserPromptSubmit hook: {exc}"
        except (Interrupted, KeyboardInterrupt):
            self._interrupt.set()  # let parallel tool workers kill their commands
            status, error = "interrupted", "interrupted by user"
            kept, self._partial = interrupted_answer(self._partial, self.messages), []
            kept and self._append(kept, interrupted=True)
            self._recorder and self._recorder.record_event("interrupted")
        except LLMError as exc:
            status, error = "error", str(exc)
            self._recorder and self._recorder.record_event("error", error=error)
        if status == "max_turns":
            error = f"stopped after {self.max_iterations} turns without a final answer (raise --max-turns)"
        elif status == "loop_detected":
            error = "stopped: the model kept repeating the same failing tool call"
        if error and status != "interrupted":
            self.on_event(Notice(error))
        if self._recorder is not None:
            self._recorder.record_event("run_end", status=status, error=error, usage=self.usage)
            self._recorder.flush()
        if self.save_trajectories:
            append_trajectory(self.messages, self.tools, self.model, completed=status == "success",
                              secrets=[self.endpoint.api_key])
        return {
            "final_response": final,
            "messages": self.messages,
            "api_calls": self.api_calls,
            "turns": turns,
            "completed": status == "success",
            "status": status,
            "error": error,
            "session_id": self.session_id,
            "task_id": self.task_id,
            "usage": dict(self.usage),
        }

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self) -> steps.Steps:  # returns (status, final answer, turns)
        guard = LoopGuard()
        stop_hook_active = False
        for turn in range(1, self.max_iterations + 1):
            if self._interrupt.is_set():  # Ctrl-C at an approval question in the last round of calls
                raise Interrupted("interrupted")
            if compression.due(conversation := self._conversation()):
                self._apply_compression((yield steps.Blocking(lambda: compression.maybe_compress(
                    conversation, self._summarise, before=self._pre_compact))))
            completion = yield from self._call_llm()
            message = completion.message()
            calls = completion.tool_calls
            if not calls and self.tools and has_text_tool_calls(completion.content, self._tool_runner.schemas()):
                self._append(message)
                text = yield steps.Blocking(partial(self._tool_runner.run_text_calls, completion.content, guard))
                if text is not None:
                    self._append({"role": "user", "content": text}, text_tool_responses=True)
                    if guard.exhausted:
                        return "loop_detected", None, turn
                    continue
                if (yield from self._stop_hook_continues(completion.content, stop_hook_active)):
                    stop_hook_active = True
                    continue
                return "success", completion.content, turn
            self._append(message)
            if not calls:
                if (yield from self._stop_hook_continues(completion.content, stop_hook_active)):
                    stop_hook_active = True
                    continue
                return "success", completion.content, turn
            try:
                results = yield steps.Blocking(partial(self._tool_runner.run_calls, calls, guard),
                                               quick=self._tool_runner.quick(calls))
            except BaseException:  # keep the history valid: every tool call gets a result
                self._append_all(interrupted_results(calls))
                raise
            self._append_all(results)
            if guard.exhausted:
                return "loop_detected", None, turn
            if self._interrupt.is_set():
                raise Interrupted("interrupted")
        return "max_turns", None, self.max_iterations

    def _stop_hook_continues(self, final: str | None, active: bool) -> steps.Steps:
        """A Stop hook that exits 2 sends its stderr to the model, which goes on (Claude Code's contract)."""
        message = (yield steps.Blocking(lambda: self.hooks.on_stop(self, final, active))) if self.hooks else None
        if message is None:
            return False
        self._append({"role": "user", "content": f"[Stop hook]: {message}"})
        return True

    def _ready_is_quick(self) -> bool:
        """`_ensure_ready` only opens the session log: no client to build, model to ask, MCP server to wait for."""
        return not self._sdk_client and self.model is not None and not extensions.has_servers()

    def _ensure_ready(self) -> None:
        if self._sdk_client:  # now, before a retry deadline starts: the SDK's import takes a while
            self.ensure_client()
        if self.model is None:
            self.model = discover_model(self.ensure_client(), self.endpoint)
        extensions.sync_agent_tools(self)  # before the recorder: session_start lists the MCP tools
        self._ensure_recorder()

    def _ensure_recorder(self) -> None:
        if self._recorder is None and self._record:
            from agent.session_resume import SessionInfo, open_recorder

            metadata = {
                "mode": self._mode, "base_url": self.endpoint.base_url, "toolsets": self.enabled_toolsets,
                "system_prompt": self.system_prompt, "ephemeral_system_prompt": self.ephemeral_system_prompt is not None,
                "max_turns": self.max_iterations, "request_params": self.request_params,
                "token_capture": self.token_capture, "task_id": self.task_id,
                "context_files": self.project_context.summary(),
            }
            info = SessionInfo(self.session_id, self._log_directory or self.settings.log_dir, self.model, self.tools,
                               metadata, [self.endpoint.api_key], list(self.messages), self._mode != "batch",
                               redactor=self._redactor)
            try:
                self._recorder = open_recorder(info, self._resumed)
            except OSError as exc:  # the answer matters more than its log: go on, say so once
                self._record = False
                self.on_event(Warn(f"cannot record this session in {info.directory}: {exc.strerror or exc}; "
                                   "going on without a session log (set HERMES_LOG_DIR to a writable directory)"))
                return
            self._recorder.on_failure = self._recording_failed
            if self._recorder.failed:
                self._recording_failed(self._recorder.failed)

    def _recording_failed(self, reason: str) -> None:
        self.on_event(Warn(f"{reason}; the session log stops here (the run goes on)"))

    def _append(self, message: dict[str, Any], **extra: Any) -> None:
        self.messages.append(message)
        if self._recorder is not None:
            self._recorder.record_message(message, **extra)

    def _append_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._append(message)

    # -- model calls -----------------------------------------------------------------------------
    def _request(self) -> dict[str, Any]:
        system = self.system_prompt
        if self.ephemeral_system_prompt:
            system = f"{system}\n\n{self.ephemeral_system_prompt}" if system else self.ephemeral_system_prompt
        params: dict[str, Any] = {"model": self.model, "messages": [{"role": "system", "content": system}, *self.messages]}
        if self.tools:
            params["tools"] = self.tools
        params.update(self.request_params)
        if self.token_capture:
            params.setdefault("logprobs", True)
            params.setdefault("top_logprobs", 0)  # llama.cpp computes logprobs only when this is set
            # vLLM and SGLang: return_token_ids; older SGLang only knows return_prompt_token_ids
            params["extra_body"] = {**params.get("extra_body", {}), "return_token_ids": True,
                                    "return_prompt_token_ids": True}
        return params

    def _call_llm(self) -> steps.Steps:  # returns the llm.Completion
        params = self._request()
        policy = self.retry_policy
        started = time.monotonic()
        streamed: list[bool] = [False]

        def on_text(text: str) -> None:
            streamed[0] = True
            self._partial.append(text)
            self.on_event(TextDelta(text))

        def on_reasoning(text: str) -> None:
            streamed[0] = True
            self.on_event(ReasoningDelta(text))

        for attempt in range(1, policy.max_attempts + 1):
            streamed[0], self._partial = False, []
            try:
                completion = yield steps.CallModel(self, params, self.stream, on_text, on_reasoning, policy.stall_timeout,
                                                   policy.deadline - (time.monotonic() - started))
                break
            except Interrupted:
                raise
            except Exception as exc:
                if self._interrupt.is_set():
                    raise Interrupted("interrupted") from None
                self._recorder and self._recorder.record_event(
                    "llm_error", attempt=attempt, error=describe_error(exc), status_code=status_code(exc)
                )
                delay = policy.delay(attempt, retry_after_seconds(exc))
                out_of_time = time.monotonic() - started + delay > policy.deadline
                if not is_retryable(exc) or attempt == policy.max_attempts or out_of_time:
                    raise LLMError(media.failure_line(self, exc, attempt, params["messages"])) from None
                if streamed[0]:
                    self.on_event(StreamReset())
                self.on_event(Retrying(attempt, policy.max_attempts, delay, describe_error(exc)))
                if (yield steps.Wait(self, delay)):
                    raise Interrupted("interrupted") from None
            finally:
                self._active_stream = None
        self.api_calls, self._partial = self.api_calls + 1, []  # the text is in the completion now
        self.add_usage(completion.usage)
        self.context.observe(completion.usage, len(self.messages))
        if self._recorder is not None:
            self._recorder.note_request(self.system_prompt, self.tools)  # logs a /prompt, /toolsets, ... change
            self._recorder.record_llm_call(
                call=self.api_calls, attempts=attempt, model=completion.model or self.model,
                params={"stream": self.stream, **{k: v for k, v in params.items() if k not in ("messages", "tools", "model")}},
                prompt_messages=len(self.messages), usage=completion.usage,
                finish_reason=completion.finish_reason, latency=round(completion.latency, 4),
                time_to_first_token=completion.time_to_first_token and round(completion.time_to_first_token, 4),
                response_id=completion.response_id, prompt_token_ids=completion.prompt_token_ids,
                completion_token_ids=completion.completion_token_ids, logprobs=completion.logprobs,
                token_source="server" if completion.completion_token_ids is not None else None,
                completion_message=completion.message()
                if completion.completion_token_ids is not None or completion.logprobs else None,
                ephemeral_prompt=bool(self.ephemeral_system_prompt),
                **({"request_model": params["model"]} if completion.model not in (None, params["model"]) else {}),
            )
        return completion

    def add_usage(self, usage: dict[str, Any] | None) -> None:
        for key, value in (usage or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.usage[key] = self.usage.get(key, 0) + value


if __name__ == "__main__":  # seed-compatible `python run_agent.py --query "..."`
    from hermes_cli.seed_runner import fire_main

    fire_main()
