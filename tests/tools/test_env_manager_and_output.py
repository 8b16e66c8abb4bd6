"""The environment manager (caching, config, resolve_path, cleanup) and the output collector."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tools.environments import manager
from tools.environments.output import OutputCollector, clip_text
from tools.environments.shell_state import ShellState, bash_argv


def test_one_environment_per_task_even_under_concurrency():
    seen = []
    barrier = threading.Barrier(8)

    def grab():
        barrier.wait()
        seen.append(manager.get_environment("shared"))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(env) for env in seen}) == 1
    assert manager.get_environment("other") is not seen[0]


def test_config_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("TERMINAL_CWD", str(tmp_path))
    monkeypatch.setenv("TERMINAL_TIMEOUT", "7")
    env = manager.get_environment("configured")
    assert env.backend == "local"
    assert env.cwd == str(tmp_path)
    assert env.default_timeout == 7


def test_missing_terminal_cwd_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("TERMINAL_CWD", str(tmp_path / "nope"))
    with pytest.raises(manager.BackendUnavailable, match="does not exist"):
        manager.get_environment("nowhere")


def test_backends_are_a_registry(monkeypatch: pytest.MonkeyPatch):
    from agent.settings import TerminalSettings

    settings = TerminalSettings(backend="mybackend")  # settings validate names; the manager runs what is registered
    with pytest.raises(manager.BackendUnavailable, match="unknown terminal backend 'mybackend'"):
        manager.get_environment("m", settings=settings)
    monkeypatch.setitem(manager.BACKENDS, "mybackend", manager.BACKENDS["local"])
    assert manager.get_environment("m", settings=settings).backend == "local"


def test_resolve_path_follows_the_task_cwd(workdir: Path):
    assert manager.resolve_path("fresh", "a.txt") == str(workdir / "a.txt")
    assert manager.peek_environment("fresh") is None  # resolving never creates an environment
    env = manager.get_environment("moved")
    env.execute("mkdir -p deeper && cd deeper", timeout=30)
    assert manager.resolve_path("moved", "a.txt") == str(workdir / "deeper" / "a.txt")
    assert manager.resolve_path("moved", "/etc/hosts") == "/etc/hosts"
    assert manager.resolve_path("moved", "~/x") == os.path.join(os.path.expanduser("~"), "x")


def test_cleanup_environment_and_cleanup_all():
    a, b = manager.get_environment("c1"), manager.get_environment("c2")
    manager.cleanup_environment("c1")
    assert not os.path.exists(a.state_dir)
    assert manager.peek_environment("c1") is None
    manager.cleanup_environment("c1")  # twice is fine
    manager.cleanup_all()
    assert not os.path.exists(b.state_dir)
    assert manager.get_environment("c1") is not a  # a new one on next use


def test_collector_keeps_everything_under_the_limit():
    collector = OutputCollector(100)
    collector.feed(b"x" * 60)
    collector.feed(b"y" * 40)
    collector.finish()
    assert collector.text() == "x" * 60 + "y" * 40
    assert collector.dropped == 0


def test_collector_counts_dropped_characters_exactly_with_multibyte_split_across_chunks():
    data = ("é" * 5000 + "END").encode()
    collector = OutputCollector(1000)
    for i in range(0, len(data), 7):  # 7-byte chunks split the 2-byte characters
        collector.feed(data[i: i + 7])
    collector.finish()
    assert collector.dropped == 5003 - 1000
    text = collector.text()
    assert "[... 4003 characters truncated ...]" in text
    assert text.startswith("é" * 400) and text.endswith("é" * 597 + "END")
    assert "\ufffd" not in text


def test_collector_memory_is_bounded():
    collector = OutputCollector(1000)
    for _ in range(2000):
        collector.feed(b"z" * 4096)
    assert sum(len(chunk) for chunk in collector._tail) < 1000 + 4096 * 2
    assert collector.dropped == 2000 * 4096 - 1000


def test_collector_strips_nul_and_replaces_invalid_utf8():
    collector = OutputCollector(100)
    collector.feed(b"a\x00b\xff\xfec")
    collector.finish()
    assert collector.text() == "ab\ufffd\ufffdc"


def test_clip_text():
    assert clip_text("short", 100) == ("short", 0)
    text, dropped = clip_text("a" * 300, 200)
    assert dropped == 100 and "[... 100 characters truncated ...]" in text


def test_shell_state_ignores_incomplete_files_and_builds_a_prelude():
    state = ShellState(cwd="/start", env={"A": "1"})
    assert not state.load(b"/else\0B=2\0")  # killed before the end marker
    assert state.cwd == "/start" and state.env == {"A": "1"}
    assert state.load(b"/else\0B=two words\0__HERMES_STATE_END__\0")
    assert state.cwd == "/else" and state.env == {"B": "two words"}
    assert "export B='two words'" in state.prelude() and "cd -- /else" in state.prelude()


def test_wrapper_passes_the_command_as_an_argument_not_as_script_text():
    argv = bash_argv("echo '$(danger)'", "/tmp/x/state.1")
    assert argv[-1] == "echo '$(danger)'"
    assert "danger" not in argv[2]
