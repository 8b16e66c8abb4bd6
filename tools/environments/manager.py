"""One terminal environment per task_id, created on first use and cleaned up at exit.

    get_environment(task_id) -> Environment      # raises BackendUnavailable with a message for the model
    resolve_path(task_id, path) -> str           # relative paths follow the task's terminal cwd
    start_background(task_id, command)           # detached command, tracked and killed at cleanup
    cleanup_environment(task_id); cleanup_all()

Backend from `TERMINAL_ENV` (default `local`), start directory from `TERMINAL_CWD` (default: this
process's cwd), default command timeout from `TERMINAL_TIMEOUT` (default 60 s).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tools.environments.base import Environment

DEFAULT_TIMEOUT = 60.0


class BackendUnavailable(RuntimeError):
    """The configured backend cannot be used; the message is meant for the model and the user."""


@dataclass(frozen=True)
class EnvConfig:
    backend: str
    cwd: str
    timeout: float


def _make_local(config: EnvConfig) -> Environment:
    from tools.environments.local import LocalEnvironment

    return LocalEnvironment(cwd=config.cwd, default_timeout=config.timeout)


# name -> factory. Adding a backend is one line here.
BACKENDS: dict[str, Callable[[EnvConfig], Environment]] = {
    "local": _make_local,
}
# Backends the product knows about but this build does not implement yet.
PLANNED_BACKENDS = ("docker", "singularity", "apptainer", "modal", "ssh")

_envs: dict[str, Environment] = {}
_background: dict[str, list] = {}
_lock = threading.Lock()


def default_timeout() -> float:
    raw = os.environ.get("TERMINAL_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def default_cwd() -> str:
    cwd = os.environ.get("TERMINAL_CWD", "").strip()
    return os.path.abspath(os.path.expanduser(cwd)) if cwd else os.getcwd()


def current_config() -> EnvConfig:
    backend = (os.environ.get("TERMINAL_ENV") or "local").strip().lower()
    return EnvConfig(backend=backend, cwd=default_cwd(), timeout=default_timeout())


def get_environment(task_id: str = "default") -> Environment:
    """The task's environment, creating it with the current configuration on first use."""
    env = _envs.get(task_id)
    if env is not None:
        return env
    with _lock:
        env = _envs.get(task_id)
        if env is not None:
            return env
        config = current_config()
        factory = BACKENDS.get(config.backend)
        if factory is None:
            if config.backend in PLANNED_BACKENDS:
                raise BackendUnavailable(f"terminal backend '{config.backend}' is not available in this build")
            known = ", ".join(sorted({*BACKENDS, *PLANNED_BACKENDS}))
            raise BackendUnavailable(f"unknown terminal backend '{config.backend}' (TERMINAL_ENV); known: {known}")
        if config.backend == "local" and not os.path.isdir(config.cwd):
            raise BackendUnavailable(f"terminal working directory {config.cwd} does not exist (TERMINAL_CWD)")
        env = factory(config)
        _envs[task_id] = env
        return env


def peek_environment(task_id: str) -> Environment | None:
    """The task's environment if it exists; never creates one."""
    return _envs.get(task_id)


def resolve_path(task_id: str | None, path: str) -> str:
    """Absolute path for a file tool: relative paths follow the task's terminal cwd if it has one."""
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return os.path.normpath(path)
    env = _envs.get(task_id or "default")
    base = getattr(env, "cwd", None) if env is not None else None
    return os.path.normpath(os.path.join(base or default_cwd(), path))


def start_background(task_id: str, command: str):
    """Start a detached command in the task's environment; it is killed when the task is cleaned up."""
    env = get_environment(task_id)
    starter = getattr(env, "start_background", None)
    if starter is None:
        raise BackendUnavailable(f"background commands are not supported by the '{env.backend}' backend")
    proc = starter(command)
    with _lock:
        _background.setdefault(task_id, []).append(proc)
    return proc


def background_processes(task_id: str) -> list:
    with _lock:
        return list(_background.get(task_id, []))


def cleanup_environment(task_id: str) -> None:
    """Kill the task's background processes and release its environment (safe to call twice)."""
    with _lock:
        env = _envs.pop(task_id, None)
        procs = _background.pop(task_id, [])
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
