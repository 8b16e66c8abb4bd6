"""SSH backend: commands on a remote host through one OpenSSH control master per task.

Settings (config `terminal.*` keys are bridged to these variables):
    TERMINAL_SSH_HOST, TERMINAL_SSH_USER, TERMINAL_SSH_PORT (22), TERMINAL_SSH_KEY (identity file)
    TERMINAL_SSH_HOST_KEY_POLICY  strict (default: the host must be in known_hosts),
                                  accept-new (trust on first use), or off (no checking at all)
    TERMINAL_SSH_KNOWN_HOSTS      known_hosts file to use instead of ~/.ssh/known_hosts
    TERMINAL_SSH_CWD              remote start directory (default: the login directory)
    TERMINAL_SSH_CONNECT_TIMEOUT  seconds (default 10)

The master (`ssh -M -N`) is our own child process, so every command costs one round trip on an
open connection; if it dies (network drop, sshd restart) the next command starts a new one.
Remote state lives in a private `mktemp -d` directory that cleanup removes, after killing any
process group a command left running.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING

from tools.environments.remote import BOOT, ProcessChannel, RemoteShellEnvironment, kill_all_script
from tools.environments.settings import terminal_settings

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

POLICIES = {
    "strict": ["-o", "StrictHostKeyChecking=yes"],
    "accept-new": ["-o", "StrictHostKeyChecking=accept-new"],
    "off": ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
}


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable

    return BackendUnavailable(message)


class SSHEnvironment(RemoteShellEnvironment):
    backend = "ssh"

    def __init__(self, *, default_timeout: float = 60, sudo_password: str | None = None,
                 settings: TerminalSettings | None = None) -> None:
        settings = terminal_settings(settings)
        self.ssh = shutil.which("ssh")
        if self.ssh is None:
            raise _unavailable("ssh backend: the `ssh` command (OpenSSH client) is not installed")
        self.host = settings.ssh_host or ""
        if not self.host:
            raise _unavailable("ssh backend: no host configured (set TERMINAL_SSH_HOST or terminal.ssh_host)")
        self.user = settings.ssh_user or getpass.getuser()
        self.port = settings.ssh_port or 22
        self.policy = settings.ssh_host_key_policy
        if self.policy not in POLICIES:
            raise _unavailable(f"ssh backend: TERMINAL_SSH_HOST_KEY_POLICY={self.policy!r}; use one of "
                               + ", ".join(POLICIES))
        key = settings.ssh_key
        if key and not os.path.isfile(os.path.expanduser(key)):
            raise _unavailable(f"ssh backend: key file {key} does not exist (TERMINAL_SSH_KEY)")
        self.connect_timeout = settings.ssh_connect_timeout or 10.0
        super().__init__(cwd=settings.ssh_cwd or "", default_timeout=default_timeout,
                         sudo_password=sudo_password, max_output_chars=settings.max_output_chars)
        self.dest = f"{self.user}@{self.host}"
        self.local_dir = tempfile.mkdtemp(prefix=f"hermes-ssh-{os.getpid()}-")  # control socket (0700)
        self.control_path = os.path.join(self.local_dir, "cm")
        self.options = ["-p", str(self.port), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                        "-o", f"ConnectTimeout={max(int(self.connect_timeout), 1)}",
                        "-o", "ServerAliveInterval=15", *POLICIES[self.policy]]
        known_hosts = settings.ssh_known_hosts
        if known_hosts and self.policy != "off":
            self.options += ["-o", f"UserKnownHostsFile={os.path.expanduser(known_hosts)}"]
        if key:
            self.options += ["-i", os.path.expanduser(key), "-o", "IdentitiesOnly=yes"]
        self.master: subprocess.Popen | None = None
        self.masters_started = 0
        try:
            self._start_master()
            code, out, err = self.run_raw("mktemp -d /tmp/hermes-XXXXXXXX\n", timeout=self.connect_timeout + 10)
            if code != 0 or not out.strip().startswith("/"):
                raise _unavailable(f"ssh backend: cannot create a work directory on {self.host}: "
                                   f"{err.strip() or out.strip() or 'mktemp failed'}")
            self.state_dir = out.strip().splitlines()[0]
        except BaseException:
            self._close_master()
            shutil.rmtree(self.local_dir, ignore_errors=True)
            raise

    # -- connection -------------------------------------------------------------------------------

    def _start_master(self) -> None:
        self._close_master()
        log_path = os.path.join(self.local_dir, "master.log")
        with open(log_path, "wb") as log:
            self.master = subprocess.Popen(
                [self.ssh, "-M", "-N", "-S", self.control_path, "-o", "ControlPersist=no", *self.options,
                 self.dest],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            )
        self.masters_started += 1
        deadline = time.monotonic() + self.connect_timeout + 5
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                break
            if os.path.exists(self.control_path) and self._check_master():
                return
            time.sleep(0.02)
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            reason = " ".join(fh.read().split()) or "timed out"
        self._close_master()
        hint = ""
        if "Host key verification failed" in reason or "host key" in reason.lower():
            hint = (f" (host key policy '{self.policy}': add the host to known_hosts, or set "
                    "TERMINAL_SSH_HOST_KEY_POLICY=accept-new)")
        raise _unavailable(f"ssh backend: cannot connect to {self.dest} port {self.port}: {reason}{hint}")

    def _check_master(self) -> bool:
        result = subprocess.run([self.ssh, "-S", self.control_path, "-O", "check", self.dest],
                                capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        return result.returncode == 0

    def _master_alive(self) -> bool:
        return self.master is not None and self.master.poll() is None and os.path.exists(self.control_path)

    def _close_master(self) -> None:
        master, self.master = self.master, None
        if master is None:
            return
        if master.poll() is None:
            master.terminate()
            try:
                master.wait(timeout=3)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
        try:
            os.unlink(self.control_path)
        except FileNotFoundError:
            pass

    def _client_argv(self, *remote: str) -> list[str]:
        return [self.ssh, "-S", self.control_path, "-o", "ControlMaster=no", *self.options, self.dest,
                shlex.join(remote)]

    def _channel(self, script: bytes) -> ProcessChannel:
        if not self._master_alive():
            self._start_master()  # the connection dropped: open a new one before this command
        return ProcessChannel(self._client_argv("bash", "-c", BOOT), script)

    def _retry_after_failure(self, diagnostics: str) -> bool:
        if self._master_alive():
            return False
        self._start_master()
        return True

    # -- file transfer ----------------------------------------------------------------------------

    def _scp(self, source: str, target: str) -> None:
        scp = shutil.which("scp")
        if scp is None:
            raise OSError("scp is not installed")
        if not self._master_alive():
            self._start_master()
        result = subprocess.run(
            [scp, "-q", "-o", f"ControlPath={self.control_path}", "-o", "ControlMaster=no", "-P", str(self.port),
             *self.options[2:], source, target],
            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise OSError(f"scp failed: {result.stderr.strip() or result.returncode}")

    def upload(self, local_path: str, remote_path: str) -> None:
        """Copy a local file to the remote host (relative remote paths follow the task's cwd)."""
        self._scp(local_path, f"{self.dest}:{self._remote_path(remote_path)}")

    def download(self, remote_path: str, local_path: str) -> None:
        self._scp(f"{self.dest}:{self._remote_path(remote_path)}", local_path)

    def _remote_path(self, path: str) -> str:
        if not path.startswith("/") and self.cwd:
            path = f"{self.cwd.rstrip('/')}/{path}"
        return path

    # -- teardown ---------------------------------------------------------------------------------

    def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._master_alive():
                self.run_raw(kill_all_script(self.state_dir), timeout=10)
        except Exception:  # keep tearing down locally
            pass
        self._close_master()
        shutil.rmtree(self.local_dir, ignore_errors=True)
