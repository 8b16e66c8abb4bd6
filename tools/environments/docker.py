"""Docker backend: one long-lived, hardened container per task (`docker run -d`), commands via `docker exec`.

Settings (config `terminal.*` keys are bridged to these variables):
    TERMINAL_DOCKER_IMAGE         image (default debian:bookworm-slim); it must contain bash
    TERMINAL_DOCKER_MEMORY        --memory (default 2g); TERMINAL_DOCKER_CPUS --cpus (default 2)
    TERMINAL_DOCKER_PIDS_LIMIT    --pids-limit (default 512)
    TERMINAL_DOCKER_NETWORK       --network (e.g. none); default: Docker's default network
    TERMINAL_DOCKER_WORKDIR       where commands start (default /workspace)
    TERMINAL_DOCKER_MOUNT_CWD     bind-mount TERMINAL_CWD at the workdir (default off)
    TERMINAL_DOCKER_FORWARD_ENV   comma-separated names of host variables passed into the container
    TERMINAL_DOCKER_START_TIMEOUT seconds allowed for `docker run` incl. a pull (default 300)

Hardening: all capabilities dropped except the few a package manager needs as root inside the
container, no-new-privileges, a pids limit, memory and CPU limits. The container is removed
(`docker rm -f`) at cleanup; only containers this environment started are ever touched, plus
those whose owner labels name a hermes process that no longer exists (reaper.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from typing import TYPE_CHECKING

from tools.environments import reaper
from tools.environments.remote import BOOT, ProcessChannel, RemoteShellEnvironment, run_to_completion
from tools.environments.settings import terminal_settings

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

DEFAULT_IMAGE = "debian:bookworm-slim"
# Root inside the container still needs these for apt/pip/chown; everything else is dropped.
CAPS_KEPT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID")


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable

    return BackendUnavailable(message)


def _docker_error(stderr: str) -> str:
    """The one line of docker's stderr worth showing (the daemon's error, not the usage hint)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("Run '")]
    for line in reversed(lines):
        if "rror" in line or "annot" in line:
            return re.sub(r"^docker: ", "", line)
    return lines[-1] if lines else "unknown error"


class DockerEnvironment(RemoteShellEnvironment):
    backend = "docker"
    state_dir = "/tmp/.hermes"

    def __init__(self, *, task_id: str = "default", host_cwd: str | None = None, default_timeout: float = 60,
                 sudo_password: str | None = None, image: str | None = None,
                 settings: TerminalSettings | None = None) -> None:
        self.settings = settings = terminal_settings(settings)
        self.docker = shutil.which("docker")
        if self.docker is None:
            raise _unavailable("docker backend: the `docker` command is not installed (TERMINAL_ENV=docker)")
        self.image = image or settings.docker_image or DEFAULT_IMAGE
        workdir = settings.docker_workdir or "/workspace"
        super().__init__(cwd=workdir, default_timeout=default_timeout, sudo_password=sudo_password,
                         max_output_chars=settings.max_output_chars)
        safe_task = re.sub(r"[^a-zA-Z0-9_.-]", "-", task_id)[:40] or "task"
        self.name = f"hermes-{os.getpid()}-{safe_task}-{secrets.token_hex(3)}"
        self.run_argv = self._run_argv(workdir, host_cwd)
        self._started = False
        # containers a `kill -9`ed hermes left on this daemon (owner labels, dead owner only)
        reaper.reap_containers(self.docker, settings.environ.get("DOCKER_HOST", ""))
        self._start()

    def _run_argv(self, workdir: str, host_cwd: str | None) -> list[str]:
        settings = self.settings
        argv = [
            self.docker, "run", "-d", "--name", self.name,
            "--label", f"hermes.pid={os.getpid()}", *reaper.docker_labels(),
            "--cap-drop", "ALL", *(f"--cap-add={cap}" for cap in CAPS_KEPT),
            "--init",  # reaps the zombies that commands' background children leave
            "--security-opt", "no-new-privileges",
            "--pids-limit", str(settings.docker_pids_limit or 512),
            "--memory", settings.docker_memory or "2g",
            "--cpus", f"{settings.docker_cpus or 2:g}",
            "-w", workdir,
        ]
        network = settings.docker_network
        if network:
            argv += ["--network", network]
        if settings.docker_mount_cwd and host_cwd:
            if not os.path.isdir(host_cwd):
                raise _unavailable(f"docker backend: {host_cwd} does not exist, cannot mount it (TERMINAL_CWD)")
            argv += ["-v", f"{os.path.abspath(host_cwd)}:{workdir}"]
        for name in settings.docker_forward_env:
            if name in settings.environ:
                argv += ["-e", name]  # docker reads the value from its own environment: not in argv
        # A long sleep keeps the container alive; `docker rm -f` ends it (SIGKILL) at cleanup.
        return [*argv, self.image, "sleep", "2147483647"]

    def _start(self) -> None:
        timeout = self.settings.docker_start_timeout or 300.0
        try:
            proc = subprocess.run(self.run_argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self._remove()
            raise _unavailable(
                f"docker backend: starting a container from {self.image} took over {timeout:g} s "
                "(TERMINAL_DOCKER_START_TIMEOUT)") from None
        if proc.returncode != 0:
            self._remove()  # a failed run can still leave a created container behind
            raise _unavailable(f"docker backend: cannot start a container from {self.image}: "
                               f"{_docker_error(proc.stderr)}")
        self._started = True
        code, out, err = self.run_raw("command -v bash >/dev/null && echo ready\n", timeout=60)
        if "ready" not in out:
            self._remove()
            detail = _docker_error(err) if err.strip() else "bash was not found"
            raise _unavailable(f"docker backend: image {self.image} cannot run the terminal ({detail}); "
                               "the image needs bash")

    def _channel(self, script: bytes) -> ProcessChannel:
        return ProcessChannel([self.docker, "exec", "-i", self.name, "bash", "-c", BOOT], script)

    def _remove(self) -> None:
        run_to_completion([self.docker, "rm", "-f", self.name], timeout=60)

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._remove()
