"""The agent loop's I/O as values, so one loop serves a thread and an event loop alike.

`AIAgent.conversation_steps()` is a generator: it decides, records and builds requests itself, and
`yield`s what must wait on the outside world:

- `CallModel`: one attempt of a chat-completions call (the retry policy stays in the loop);
- `Wait`: a retry back-off; the answer is True if the agent was interrupted meanwhile;
- `Blocking`: anything else that blocks (tools, hooks, compression's summary call, opening the
  session log); its return value is sent back. `quick` ones take well under a few milliseconds.

An exception raised by an effect is thrown into the generator at its `yield`, so the loop's own
`try`/`except` see exactly what they saw when it called the function itself.

`run_sync` performs each effect in the calling thread (what `run_conversation` does: the CLI, the
REPL, a thread-pool batch). `run_async` (batch/aio.py's driver) awaits model calls on its async client
and runs `Blocking` work in a bounded executor (`quick` work on the loop itself): a thousand samples
waiting on a slow endpoint cost one event loop, not a thousand threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any

from agent.errors import Interrupted


@dataclass
class CallModel:
    agent: Any  # whose client, interrupt event and open stream
    params: dict[str, Any]
    stream: bool
    on_text: Callable[[str], None]
    on_reasoning: Callable[[str], None]
    stall_timeout: float
    deadline: float


@dataclass
class Wait:
    agent: Any
    seconds: float


@dataclass
class Blocking:
    fn: Callable[[], Any]
    # True: in-process work on local files or memory that never waits on a process, the network or
    # a person (a quick tool call, opening the session log): `run_async` does it on the loop thread,
    # where the hand-over to a worker thread and back cost more than the work.
    quick: bool = False


Effect = CallModel | Wait | Blocking
Steps = Generator[Effect, Any, Any]


def run_sync(steps: Steps) -> Any:
    """Drive `steps` in this thread; returns the generator's return value."""
    from agent import llm

    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.throw(error) if error is not None else steps.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            if isinstance(effect, CallModel):
                agent = effect.agent
                value = llm.complete(
                    agent.ensure_client(), effect.params, stream=effect.stream, on_text=effect.on_text,
                    on_reasoning=effect.on_reasoning, interrupt=agent.interrupt_event,
                    on_stream_open=partial(setattr, agent, "_active_stream"),
                    stall_timeout=effect.stall_timeout, deadline=effect.deadline)
            elif isinstance(effect, Wait):
                value = effect.agent.interrupt_event.wait(effect.seconds)
            else:
                value = effect.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which decides
            error = exc


class _Cancel:
    """Stands in for the open stream while an effect is awaited: `AIAgent.interrupt()` (any thread,
    e.g. the watchdog's) closes it, which cancels the awaiting task on its loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Future) -> None:
        self.loop, self.task = loop, task

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)


async def run_async(steps: Steps, client: Any, executor: Executor | None = None) -> Any:
    """Drive `steps` on the running event loop: model calls on the async `client`, `Blocking` work
    in `executor`. An interrupt cancels the call or wait under way (the loop then sees `Interrupted`,
    as with the sync driver); tools see the agent's interrupt event as they always do."""
    from agent.llm_async import acomplete

    loop = asyncio.get_running_loop()
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.throw(error) if error is not None else steps.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        if isinstance(effect, Blocking):
            try:
                value = effect.fn() if effect.quick else await loop.run_in_executor(executor, effect.fn)
            except BaseException as exc:  # noqa: BLE001
                error = exc
            continue
        if isinstance(effect, CallModel):
            work: Any = acomplete(client, effect.params, stream=effect.stream, on_text=effect.on_text,
                                  on_reasoning=effect.on_reasoning, stall_timeout=effect.stall_timeout,
                                  deadline=effect.deadline)
        else:
            work = asyncio.sleep(effect.seconds, False)
        agent = effect.agent
        task = asyncio.ensure_future(work)
        agent._active_stream = _Cancel(loop, task)
        if agent.interrupt_event.is_set():
            task.cancel()
        try:
            value = await task
        except asyncio.CancelledError as exc:
            if not agent.interrupt_event.is_set():
                # the run itself is being cancelled: unwind the loop (its finally blocks still run)
                error = exc
            elif isinstance(effect, Wait):
                value = True
            else:
                error = Interrupted("interrupted")
        except BaseException as exc:  # noqa: BLE001
            error = exc
        finally:
            agent._active_stream = None
