"""The batch runner's shared timer thread (batch/watchdog.py)."""

from __future__ import annotations

import threading
import time

from batch.watchdog import Watchdog


def test_deadlines_fire_in_order_on_one_thread_and_cancelled_ones_never():
    dog = Watchdog()
    fired: list[tuple[str, str]] = []
    done = threading.Event()

    def note(name: str):
        def fire() -> None:
            fired.append((name, threading.current_thread().name))
            if name == "last":
                done.set()
        return fire

    before = threading.active_count()
    dog.arm(0.3, note("last"))
    dog.arm(0.05, note("first"))
    cancelled = dog.arm(0.1, note("cancelled"))
    for _ in range(200):  # many pending deadlines still mean one extra thread
        dog.arm(60, note("never")).cancel()
    cancelled.cancel()
    assert threading.active_count() == before + 1
    assert done.wait(5)
    time.sleep(0.05)
    assert [name for name, _ in fired] == ["first", "last"]
    assert {thread for _, thread in fired} == {"sample-watchdog"}
    dog.close()


def test_a_later_limit_never_wakes_the_thread_and_cancelled_ones_are_swept():
    """Each sample arms a limit later than every pending one: waking the thread for it (a context
    switch per sample) only to sleep again was measured at 3 % of a batch sample's CPU."""
    from batch import watchdog

    dog = Watchdog()
    fired = threading.Event()
    dog.arm(0.2, fired.set)
    wakes = 0
    real_notify = dog._wake.notify

    def counting_notify(n: int = 1) -> None:
        nonlocal wakes
        wakes += 1
        real_notify(n)

    dog._wake.notify = counting_notify
    for _ in range(3 * watchdog.COMPACT_FROM):
        dog.arm(60, lambda: None).cancel()
    assert wakes == 0
    assert len(dog._heap) < 2 * watchdog.COMPACT_FROM  # the cancelled ones did not pile up
    soon = threading.Event()
    dog.arm(0.05, soon.set)  # sooner than anything pending: the thread is woken for it
    assert wakes == 1 and soon.wait(5) and fired.wait(5)
    dog.close()


def test_child_command_lines_of_processes_drop_the_parent_only_flags():
    from batch.processes import child_argv

    argv = child_argv(["p.jsonl", "--run-name", "r", "--processes", "4", "--tokenizer=tok", "--rollout", "--n", "2"], 3, 4)
    assert argv[2:] == ["batch", "p.jsonl", "--run-name", "r", "--rollout", "--n", "2", "--part", "3/4", "--resume", "-q"]
