"""Modal backend: each task runs in a Modal Sandbox taken from a warm pool for its profile.

    pool = get_pool(profile)       # one per profile: warm sandboxes, min/max size, idle scale-down
    sandbox = pool.acquire(task)   # recovered by name after a restart, else warm, else new
    pool.release(task)             # terminate it (sandboxes are never reused across tasks)

Everything that talks to Modal goes through a small SDK boundary (`RealModal`), so tests inject a
stand-in with `set_sdk_factory()` and never open a network connection. The SDK is imported only
when the modal backend is used (it costs ~0.3 s). Which task holds which named sandbox is kept in
`$HERMES_HOME/modal_sandboxes.json` (written atomically), so a restarted process reattaches to the
task's sandbox with `Sandbox.from_name` instead of starting over.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.environments.modal_profiles import ModalProfile, resolve_profile
from tools.environments.remote import BOOT, RemoteShellEnvironment
from tools.environments.settings import terminal_settings

if TYPE_CHECKING:
    from agent.settings import TerminalSettings


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable

    return BackendUnavailable(message)


class RealModal:
    """The only code that calls the `modal` SDK (Sandbox.create/from_name, App.lookup, Image, Secret)."""

    def __init__(self) -> None:
        try:
            import modal
        except ImportError:
            raise _unavailable("modal backend: the `modal` package is not installed (pip install modal)") from None
        has_token = os.environ.get("MODAL_TOKEN_ID") and os.environ.get("MODAL_TOKEN_SECRET")
        if not has_token and not os.path.isfile(os.path.expanduser("~/.modal.toml")):
            raise _unavailable("modal backend: no Modal credentials (set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, "
                               "or run `modal token new`)")
        self.modal = modal
        self._apps: dict[str, Any] = {}

    def app(self, name: str) -> Any:
        if name not in self._apps:
            self._apps[name] = self.modal.App.lookup(name, create_if_missing=True)
        return self._apps[name]

    def create_sandbox(self, profile: ModalProfile, name: str) -> Any:
        kwargs: dict[str, Any] = {"cpu": profile.cpu, "memory": profile.memory, "gpu": profile.gpu,
                                  "workdir": profile.workdir}
        return self.modal.Sandbox.create(
            app=self.app(profile.app_name), name=name, image=self.modal.Image.from_registry(profile.image),
            secrets=[self.modal.Secret.from_name(secret) for secret in profile.secrets],
            timeout=profile.sandbox_timeout, **{k: v for k, v in kwargs.items() if v is not None},
        )

    def from_name(self, app_name: str, name: str) -> Any | None:
        try:
            return self.modal.Sandbox.from_name(app_name, name)
        except self.modal.exception.NotFoundError:
            return None


_sdk_factory: Callable[[], Any] = RealModal
_sdk: Any = None
_pools: dict[str, SandboxPool] = {}
_registry_lock = threading.Lock()


def set_sdk_factory(factory: Callable[[], Any] | None) -> None:
    """Use another SDK boundary (tests); None restores the real one. Existing pools are shut down."""
    global _sdk_factory, _sdk
    shutdown_pools()
    _sdk_factory, _sdk = factory or RealModal, None


def _get_sdk() -> Any:
    global _sdk
    if _sdk is None:
        _sdk = _sdk_factory()
    return _sdk


def _call_with_timeout(fn: Callable[[], Any], what: str) -> Any:
    """Modal retries an unreachable server for about a minute; give the user one error sooner."""
    limit = terminal_settings().modal_connect_timeout or 60.0
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise _unavailable(f"modal backend: {what} did not finish within {limit:g} s "
                           "(TERMINAL_MODAL_CONNECT_TIMEOUT); is Modal reachable?")
    if "error" in box:
        exc = box["error"]
        if exc.__class__.__name__ == "BackendUnavailable":
            raise exc
        raise _unavailable(f"modal backend: {what} failed: {' '.join(str(exc).split()) or type(exc).__name__}")
    return box.get("value")


# -- which task holds which named sandbox (for recovery after a restart) ---------------------------

def _records_path() -> str:
    return os.path.join(terminal_settings().home, "modal_sandboxes.json")


def _update_records(change: Callable[[dict], None]) -> None:
    path = _records_path()
    with _registry_lock:
        try:
            with open(path, encoding="utf-8") as fh:
                records = json.load(fh)
        except (OSError, ValueError):
            records = {}
        change(records)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".modal_sandboxes.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1)
        os.replace(tmp, path)


def _record_for(key: str) -> dict | None:
    try:
        with open(_records_path(), encoding="utf-8") as fh:
            return json.load(fh).get(key)
    except (OSError, ValueError):
        return None


class SandboxPool:
    """Warm sandboxes for one profile: at least min_pool idle ones, at most max_pool in all."""

    def __init__(self, profile: ModalProfile, sdk: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile
        self.sdk = sdk
        self.clock = clock
        self.warm: list[tuple[str, Any, float]] = []  # (name, sandbox, idle since)
        self.in_use: dict[str, tuple[str, Any]] = {}  # task_id -> (name, sandbox)
        self.creating = 0
        self.terminating = 0  # released sandboxes still counted until terminated: max_pool is a hard cap
        self.cond = threading.Condition()
        self.closed = False

    def _total(self) -> int:
        return len(self.warm) + len(self.in_use) + self.creating + self.terminating

    def _create(self) -> tuple[str, Any]:
        name = f"hermes-{self.profile.name}-{secrets.token_hex(4)}"
        sandbox = _call_with_timeout(lambda: self.sdk.create_sandbox(self.profile, name),
                                     f"creating a sandbox ({self.profile.image})")
        return name, sandbox

    def acquire(self, task_id: str) -> tuple[str, Any]:
        key = f"{self.profile.name}/{task_id}"
        record = _record_for(key)
        if record:
            sandbox = _call_with_timeout(lambda: self.sdk.from_name(record["app"], record["name"]),
                                         "looking up the task's sandbox")
            if sandbox is not None and sandbox.poll() is None:  # still running: reattach
                with self.cond:
                    self.in_use[task_id] = (record["name"], sandbox)
                return record["name"], sandbox
        deadline = self.clock() + self.profile.acquire_timeout
        with self.cond:
            while True:
                if self.closed:
                    raise _unavailable("modal backend is shutting down")
                if self.warm:
                    name, sandbox, _ = self.warm.pop(0)
                    if _finished(sandbox):  # hit its lifetime while warm: drop it, look again
                        continue
                    break
                if self._total() < self.profile.max_pool:
                    self.creating += 1
                    name = None
                    break
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise _unavailable(f"modal backend: all {self.profile.max_pool} sandboxes of profile "
                                       f"'{self.profile.name}' are busy (max_pool)")
                self.cond.wait(min(remaining, 1.0))
        if name is None:
            try:
                name, sandbox = self._create()
            finally:
                with self.cond:
                    self.creating -= 1
        with self.cond:
            self.in_use[task_id] = (name, sandbox)
        _update_records(lambda r: r.__setitem__(key, {"app": self.profile.app_name, "name": name}))
        self.refill_async()
        return name, sandbox

    def release(self, task_id: str) -> None:
        with self.cond:
            entry = self.in_use.pop(task_id, None)
            if entry is not None:
                self.terminating += 1
        _update_records(lambda r: r.pop(f"{self.profile.name}/{task_id}", None))
        if entry is not None:
            try:
                _terminate(entry[1])
            finally:  # the slot frees only now, so a waiting task never pushes the pool past max_pool
                with self.cond:
                    self.terminating -= 1
                    self.cond.notify_all()
        self.refill_async()

    def fill(self) -> None:
        """Create warm sandboxes until min_pool are idle (within max_pool)."""
        while True:
            with self.cond:
                if self.closed or len(self.warm) + self.creating >= self.profile.min_pool \
                        or self._total() >= self.profile.max_pool:
                    return
                self.creating += 1
            try:
                name, sandbox = self._create()
            except Exception:  # the next acquire reports the error to the user
                with self.cond:
                    self.creating -= 1
                return
            with self.cond:
                self.creating -= 1
                self.warm.append((name, sandbox, self.clock()))
                self.cond.notify_all()

    def refill_async(self) -> threading.Thread | None:
        if self.profile.min_pool == 0:
            return None
        worker = threading.Thread(target=self.fill, name=f"modal-pool-{self.profile.name}", daemon=True)
        worker.start()
        return worker

    def scale_down(self, now: float | None = None) -> int:
        """Terminate warm sandboxes idle past idle_timeout, keeping min_pool; returns how many went."""
        now = self.clock() if now is None else now
        with self.cond:
            keep, drop = [], []
            for entry in self.warm:
                expired = now - entry[2] > self.profile.idle_timeout
                (drop if expired and len(self.warm) - len(drop) > self.profile.min_pool else keep).append(entry)
            self.warm = keep
        for _, sandbox, _ in drop:
            _terminate(sandbox)
        return len(drop)

    def shutdown(self) -> None:
        with self.cond:
            self.closed = True
            victims = [sb for _, sb, _ in self.warm] + [sb for _, sb in self.in_use.values()]
            tasks = list(self.in_use)
            self.warm, self.in_use = [], {}
            self.cond.notify_all()
        for task_id in tasks:
            _update_records(lambda r, t=task_id: r.pop(f"{self.profile.name}/{t}", None))
        for sandbox in victims:
            _terminate(sandbox)


def _finished(sandbox: Any) -> bool:
    try:
        return sandbox.poll() is not None
    except Exception:  # cannot tell: treat it as gone rather than hand out a dead sandbox
        return True


def _terminate(sandbox: Any) -> None:
    try:
        sandbox.terminate()
    except Exception:  # already gone, or Modal unreachable: nothing more to do from here
        pass


def get_pool(profile: ModalProfile) -> SandboxPool:
    with _registry_lock:
        pool = _pools.get(profile.name)
        if pool is None or pool.closed or pool.profile != profile:
            pool = _pools[profile.name] = SandboxPool(profile, _get_sdk())
            threading.Thread(target=_maintain, args=(pool,), daemon=True).start()
        return pool


def _maintain(pool: SandboxPool) -> None:
    while not pool.closed:
        time.sleep(min(max(pool.profile.idle_timeout / 4, 1.0), 30.0))
        pool.scale_down()


def shutdown_pools() -> None:
    with _registry_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown()


atexit.register(shutdown_pools)


class ModalChannel:
    """A Modal exec shaped like a local client process: its streams are pumped into local pipes."""

    def __init__(self, sandbox: Any, script: bytes) -> None:
        self.process = sandbox.exec("bash", "-c", BOOT, text=False)
        self.process.stdin.write(script)
        self.process.stdin.write_eof()
        self.process.stdin.drain()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.stdout_fd, self.stderr_fd = out_r, err_r
        for stream, fd in ((self.process.stdout, out_w), (self.process.stderr, err_w)):
            threading.Thread(target=self._pump, args=(stream, fd), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, fd: int) -> None:
        try:
            for chunk in stream:
                os.write(fd, chunk if isinstance(chunk, bytes) else str(chunk).encode())
        except Exception:  # the exec ended abnormally; the reader sees EOF and reports
            pass
        finally:
            os.close(fd)

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:  # the process inside is killed by the engine's kill script
        pass

    def close(self) -> None:
        for fd in (self.stdout_fd, self.stderr_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class ModalEnvironment(RemoteShellEnvironment):
    backend = "modal"

    def __init__(self, *, task_id: str = "default", profile: str | None = None, default_timeout: float = 60,
                 sudo_password: str | None = None, settings: TerminalSettings | None = None) -> None:
        settings = terminal_settings(settings)
        self.profile = resolve_profile(profile, settings)
        super().__init__(cwd=self.profile.workdir or "", default_timeout=default_timeout,
                         sudo_password=sudo_password, max_output_chars=settings.max_output_chars)
        self.task_id = task_id
        self.pool = get_pool(self.profile)
        self.sandbox_name, self.sandbox = self.pool.acquire(task_id)
        self.state_dir = f"/tmp/.hermes-{self.sandbox_name}"

    def _channel(self, script: bytes) -> ModalChannel:
        try:
            return ModalChannel(self.sandbox, script)
        except Exception as exc:  # e.g. the sandbox hit its lifetime; the tool reports an OSError cleanly
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise OSError(f"modal sandbox {self.sandbox_name}: {detail}") from exc

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.pool.release(self.task_id)
