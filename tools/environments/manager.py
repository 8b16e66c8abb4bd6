"""One terminal environment per task_id, created on first use and cleaned up at exit.

    get_environment(task_id) -> Environment      # raises BackendUnavailable with a message for the model
    resolve_path(task_id, path) -> str           # relative paths follow the task's terminal cwd
    start_background(task_id, command)           # detached command, tracked and killed at cleanup
    cleanup_environment(task_id); cleanup_all()

Settings come from a `TerminalSettings` (agent/settings): the one `configure()` was given by the
agent's construction path, or one passed to `get_environment`; without either, the settings the
environment alone gives (no config files), so tools used on their own behave as documented.
`backend` (default `local`), `cwd` (default: this process's cwd), `timeout` (default 60 s); with
`lifetime_seconds` set, a reaper thread cleans up environments idle for that long: nothing has run in
them (a command, a file tool's remote script) since the last one ended, nor were they handed out
since (base.Activity); one with a command running is never reaped.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tools.environments.base import Environment, Unsupported
from tools.environments.settings import sudo_password

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

DEFAULT_TIMEOUT = 60.0


class BackendUnavailable(RuntimeError):
    """The configured backend cannot be used; the message is meant for the model and the user."""


@dataclass(frozen=True)
class EnvConfig:
    backend: str
    cwd: str
    timeout: float
    task_id: str = "default"
    profile: str | None = None  # Modal profile chosen by the terminal tool's `profile` argument
    image: str | None = None  # a task's own container image (docker, singularity), else the configured one
    settings: TerminalSettings | None = field(default=None, repr=False)


def _make_local(config: EnvConfig) -> Environment:
    from tools.environments.local import LocalEnvironment
    from tools.environments.sandbox import make_sandbox

    settings = config.settings or current_settings()
    # terminal.sandbox / sandbox_network / env_passthrough travel in the TerminalSettings, nowhere else
    return LocalEnvironment(cwd=config.cwd, default_timeout=config.timeout, sudo_password=sudo_password(),
                            max_output_chars=settings.max_output_chars, settings=settings,
                            sandbox=make_sandbox(settings, config.cwd))


def _make_docker(config: EnvConfig) -> Environment:
    from tools.environments.docker import DockerEnvironment

    return DockerEnvironment(task_id=config.task_id, host_cwd=config.cwd, default_timeout=config.timeout,
                             sudo_password=sudo_password(), image=config.image, settings=config.settings)


def _make_ssh(config: EnvConfig) -> Environment:
    from tools.environments.ssh import SSHEnvironment

    return SSHEnvironment(default_timeout=config.timeout, sudo_password=sudo_password(), settings=config.settings)


def _make_singularity(config: EnvConfig) -> Environment:
    from tools.environments.singularity import SingularityEnvironment

    return SingularityEnvironment(task_id=config.task_id, default_timeout=config.timeout,
                                  sudo_password=sudo_password(), image=config.image, settings=config.settings)


def _make_modal(config: EnvConfig) -> Environment:
    from tools.environments.modal_env import ModalEnvironment

    return ModalEnvironment(task_id=config.task_id, profile=config.profile, default_timeout=config.timeout,
                            sudo_password=sudo_password(), settings=config.settings)


# name -> factory. Adding a backend is one line here; modules load only when their backend is used.
BACKENDS: dict[str, Callable[[EnvConfig], Environment]] = {
    "local": _make_local,
    "docker": _make_docker,
    "ssh": _make_ssh,
    "singularity": _make_singularity,
    "apptainer": _make_singularity,
    "modal": _make_modal,
}
# Backends the product knows about but this build does not implement yet.
PLANNED_BACKENDS: tuple[str, ...] = ()

_envs: dict[str, Environment] = {}
_overrides: dict[str, dict[str, str]] = {}  # task_id -> {"cwd": ..., "image": ...} (batch rows)
_background: dict[str, list] = {}
_creating: dict[str, threading.Lock] = {}  # task_id -> held while its environment is being created
_lock = threading.Lock()
_reaper: threading.Thread | None = None
_reaper_wake = threading.Event()


_configured: TerminalSettings | None = None


def configure(settings: TerminalSettings | None) -> None:
    """The terminal settings of this process (set by the agent's construction path; None: from env)."""
    global _configured
    _configured = settings


def current_settings() -> TerminalSettings:
    if _configured is not None:
        return _configured
    from agent.errors import ConfigError
    from agent.settings import default_settings

    try:
        return default_settings().terminal
    except ConfigError as exc:  # a bad TERMINAL_* value: one line for the model and the user
        raise BackendUnavailable(str(exc).splitlines()[0]) from None


def default_timeout(settings: TerminalSettings | None = None) -> float:
    return (settings or current_settings()).timeout


def default_cwd(settings: TerminalSettings | None = None) -> str:
    cwd = ((settings or current_settings()).cwd or "").strip()
    return os.path.abspath(os.path.expanduser(cwd)) if cwd else os.getcwd()


def current_config(settings: TerminalSettings | None = None) -> EnvConfig:
    settings = settings or current_settings()
    return EnvConfig(backend=settings.backend, cwd=default_cwd(settings), timeout=settings.timeout,
                     settings=settings)


def lifetime_seconds() -> float | None:
    value = current_settings().lifetime_seconds
    return value if value else None


def configure_task(task_id: str, *, cwd: str | None = None, image: str | None = None) -> None:
    """Settings of one task, used when its environment is created: a start directory (on the host:
    local start dir, docker bind mount) and a container image (docker, singularity)."""
    settings = {"cwd": os.path.abspath(os.path.expanduser(cwd)) if cwd else None, "image": image}
    with _lock:
        _overrides[task_id] = {k: v for k, v in settings.items() if v}


def get_environment(task_id: str = "default", profile: str | None = None,
                    settings: TerminalSettings | None = None) -> Environment:
    """The task's environment, created on first use with `settings` (else the configured ones).
    Handing it out counts as use: the idle reaper leaves it alone for a lifetime from now."""
    env = _envs.get(task_id)
    if env is not None and env.activity.touch():
        return env
    with _lock:
        env = _envs.get(task_id)  # one the reaper retired is gone once its lock is ours
        if env is not None and env.activity.touch():
            return env
        config = current_config(settings)
        own = _overrides.get(task_id, {})
        config = EnvConfig(config.backend, own.get("cwd", config.cwd), config.timeout, task_id=task_id,
                           profile=profile, image=own.get("image"), settings=config.settings)
        factory = BACKENDS.get(config.backend)
        if factory is None:
            if config.backend in PLANNED_BACKENDS:
                raise BackendUnavailable(f"terminal backend '{config.backend}' is not available in this build")
            known = ", ".join(sorted({*BACKENDS, *PLANNED_BACKENDS}))
            raise BackendUnavailable(f"unknown terminal backend '{config.backend}'; known: {known}")
        if config.backend == "local" and not os.path.isdir(config.cwd):
            source = "this task's cwd" if "cwd" in own else "terminal.cwd / TERMINAL_CWD"
            raise BackendUnavailable(f"terminal working directory {config.cwd} does not exist ({source})")
        task_lock = _creating.setdefault(task_id, threading.Lock())
    # Starting a container, a connection or a sandbox takes a while (a Modal task may wait for a free
    # slot that another task's cleanup releases): only this task waits, never the global lock.
    with task_lock:
        env = _envs.get(task_id)
        if env is not None and env.activity.touch():
            return env
        env = factory(config)
        env.activity.touch()  # idle from when it is ready, not from when starting it began
        with _lock:
            _envs[task_id] = env
            _creating.pop(task_id, None)
        _start_reaper()
        return env




def reap_idle(now: float | None = None) -> list[str]:
    """Clean up environments idle for longer than TERMINAL_LIFETIME_SECONDS (counted from the end of
    their last command; never one with a command running); returns their task ids."""
    lifetime = lifetime_seconds()
    if lifetime is None:
        return []
    now = time.monotonic() if now is None else now
    with _lock:  # checked and claimed in one step: a command starting now either runs first or not at all
        idle = [task_id for task_id, env in _envs.items() if not env.busy()
                and env.activity.retire_if_idle(lifetime, now)]
        taken = [_take(task_id, keep_settings=True) for task_id in idle]  # re-made as configured if used again
    for env, procs in taken:
        try:
            _release(env, procs)
        except Exception:  # one broken backend must not stop the others from being reaped
            pass
    return idle


def _reap_loop() -> None:
    while True:
        lifetime = lifetime_seconds()
        # A new environment wakes the loop, so a changed TERMINAL_LIFETIME_SECONDS applies at once.
        _reaper_wake.wait(min(max((lifetime or 60) / 4, 0.2), 30))
        _reaper_wake.clear()
        reap_idle()


def _start_reaper() -> None:
    global _reaper
    if lifetime_seconds() is None:
        return
    if _reaper is None:
        _reaper = threading.Thread(target=_reap_loop, name="terminal-reaper", daemon=True)
        _reaper.start()
    _reaper_wake.set()


def peek_environment(task_id: str) -> Environment | None:
    """The task's environment if it exists; never creates one."""
    return _envs.get(task_id)


def resolve_path(task_id: str | None, path: str, settings: TerminalSettings | None = None) -> str:
    """Absolute path for a file tool: relative paths follow the task's terminal cwd if it has one."""
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return os.path.normpath(path)
    env = _envs.get(task_id or "default")
    # Only a local shell's cwd is a path on this machine; a container's or remote host's is not.
    base = env.cwd if env is not None and env.backend == "local" else None
    return os.path.normpath(os.path.join(base or default_cwd(settings), path))


def workspace_root(task_id: str | None, settings: TerminalSettings | None = None) -> str:
    """The task's workspace on this machine: its configured start directory, else the default cwd
    (the approval gate lets writes under it run in auto-edit mode; the sandbox makes it writable)."""
    with _lock:
        own = _overrides.get(task_id or "default", {})
    return own.get("cwd") or default_cwd(settings)


def start_background(task_id: str, command: str, settings: TerminalSettings | None = None):
    """Start a detached command in the task's environment; it is killed when the task is cleaned up."""
    env = get_environment(task_id, settings=settings)
    try:
        proc = env.start_background(command)
    except Unsupported as exc:
        raise BackendUnavailable(str(exc)) from None
    with _lock:
        _background.setdefault(task_id, []).append(proc)
    return proc


def background_processes(task_id: str) -> list:
    with _lock:
        return list(_background.get(task_id, []))


def _take(task_id: str, keep_settings: bool = False) -> tuple[Environment | None, list]:
    """Forget the task's environment and background processes (hold _lock); _release ends them."""
    if not keep_settings:
        _overrides.pop(task_id, None)
    return _envs.pop(task_id, None), _background.pop(task_id, [])


def cleanup_environment(task_id: str) -> None:
    """Kill the task's background processes and release its environment (safe to call twice)."""
    with _lock:
        env, procs = _take(task_id)
    _release(env, procs)


def _release(env: Environment | None, procs: list) -> None:
    for proc in procs:
        try:
            proc.kill()
        except Exception:  # cleanup must go on for the rest
            pass
    if env is not None:
        env.cleanup()


def cleanup_all() -> None:
    with _lock:
        task_ids = list({*_envs, *_background})
    for task_id in task_ids:
        try:
            cleanup_environment(task_id)
        except Exception:  # at exit, keep cleaning the others
            pass


atexit.register(cleanup_all)
