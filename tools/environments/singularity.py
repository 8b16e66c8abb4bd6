"""Singularity/Apptainer backend: one instance per task (`instance start`), commands via `exec instance://`.

Settings (config `terminal.*` keys are bridged to these variables):
    TERMINAL_SINGULARITY_IMAGE    a .sif file, a sandbox directory, or a docker://, oras://, library://
                                  reference (default docker://debian:bookworm-slim)
    TERMINAL_SINGULARITY_BIN      apptainer or singularity (default: whichever is on PATH, apptainer first)
    TERMINAL_SINGULARITY_OVERLAY  a directory for a persistent writable overlay; without it the
                                  instance gets --writable-tmpfs (changes last as long as the instance)
    TERMINAL_SINGULARITY_CACHE    where built SIF files are kept (default $HERMES_HOME/cache/singularity)
    TERMINAL_SINGULARITY_BUILD_TIMEOUT  seconds for building a SIF (default 900)

A reference is built into a SIF once (`build`, to a temp name then renamed, so a crash never
leaves a half-written image that later runs would trust) and reused from the cache.
Instances run with --containall (no host home, /tmp or environment leaks in).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
from typing import TYPE_CHECKING

from tools.environments.remote import BOOT, ProcessChannel, RemoteShellEnvironment, run_to_completion
from tools.environments.settings import terminal_settings

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

DEFAULT_IMAGE = "docker://debian:bookworm-slim"
_REFERENCE = re.compile(r"^(docker|docker-archive|oci|oci-archive|oras|library|shub|http|https)://")


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable

    return BackendUnavailable(message)


def find_binary(settings: TerminalSettings | None = None) -> str | None:
    configured = terminal_settings(settings).singularity_bin
    if configured:
        return shutil.which(configured)
    return shutil.which("apptainer") or shutil.which("singularity")


def cache_dir(settings: TerminalSettings | None = None) -> str:
    settings = terminal_settings(settings)
    if settings.singularity_cache:
        return os.path.expanduser(settings.singularity_cache)
    return os.path.join(settings.home, "cache", "singularity")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


def ensure_sif(binary: str, image: str, settings: TerminalSettings | None = None) -> str:
    """A local image path for `image`: as is for files/dirs, else a cached SIF built once."""
    if not _REFERENCE.match(image):
        path = os.path.expanduser(image)
        if not os.path.exists(path):
            raise _unavailable(f"singularity backend: image {image} does not exist (TERMINAL_SINGULARITY_IMAGE)")
        return path
    settings = terminal_settings(settings)
    directory = cache_dir(settings)
    os.makedirs(directory, exist_ok=True)
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "_", image.split("://", 1)[1])[:60]
    target = os.path.join(directory, f"{slug}-{hashlib.sha256(image.encode()).hexdigest()[:12]}.sif")
    if os.path.isfile(target):
        return target
    partial = f"{target}.{os.getpid()}.{secrets.token_hex(3)}.partial"
    timeout = settings.singularity_build_timeout or 900.0
    try:
        result = subprocess.run([binary, "build", partial, image], capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        _remove(partial)
        raise _unavailable(f"singularity backend: building {image} took over {timeout:g} s") from None
    if result.returncode != 0 or not os.path.exists(partial):
        _remove(partial)
        raise _unavailable(f"singularity backend: cannot build {image}: {_last_line(result.stderr)}")
    os.replace(partial, target)
    return target


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class SingularityEnvironment(RemoteShellEnvironment):
    backend = "singularity"

    def __init__(self, *, task_id: str = "default", default_timeout: float = 60,
                 sudo_password: str | None = None, image: str | None = None,
                 settings: TerminalSettings | None = None) -> None:
        self.settings = settings = terminal_settings(settings)
        binary = find_binary(settings)
        if binary is None:
            raise _unavailable("singularity backend: neither `apptainer` nor `singularity` is installed "
                               "(TERMINAL_ENV=singularity)")
        self.binary = binary
        self.image_ref = image or settings.singularity_image or DEFAULT_IMAGE
        self.image = ensure_sif(binary, self.image_ref, settings)
        super().__init__(cwd=settings.singularity_cwd or "/tmp", default_timeout=default_timeout,
                         sudo_password=sudo_password, max_output_chars=settings.max_output_chars)
        safe_task = re.sub(r"[^a-zA-Z0-9_]", "_", task_id)[:30] or "task"
        self.instance = f"hermes_{os.getpid()}_{safe_task}_{secrets.token_hex(3)}"
        self.state_dir = f"/tmp/.hermes-{self.instance}"
        self._start()

    def start_argv(self) -> list[str]:
        argv = [self.binary, "instance", "start", "--containall"]
        overlay = self.settings.singularity_overlay
        if overlay:
            os.makedirs(os.path.expanduser(overlay), exist_ok=True)
            argv += ["--overlay", os.path.expanduser(overlay)]
        else:
            argv.append("--writable-tmpfs")
        return [*argv, self.image, self.instance]

    def _start(self) -> None:
        try:
            result = subprocess.run(self.start_argv(), capture_output=True, text=True, timeout=300,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self._stop()
            raise _unavailable(f"singularity backend: starting an instance of {self.image_ref} took over 300 s") \
                from None
        if result.returncode != 0:
            raise _unavailable(f"singularity backend: cannot start an instance of {self.image_ref}: "
                               f"{_last_line(result.stderr)}")
        self._started = True
        code, out, err = self.run_raw("command -v bash >/dev/null && echo ready\n", timeout=60)
        if "ready" not in out:
            self._stop()
            raise _unavailable(f"singularity backend: image {self.image_ref} cannot run the terminal "
                               f"({_last_line(err) if err.strip() else 'bash was not found'}); the image needs bash")

    def _channel(self, script: bytes) -> ProcessChannel:
        return ProcessChannel([self.binary, "exec", f"instance://{self.instance}", "bash", "-c", BOOT], script)

    def _stop(self) -> None:
        run_to_completion([self.binary, "instance", "stop", self.instance], timeout=60)

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop()  # stopping the instance ends every process in it, tmpfs changes included
