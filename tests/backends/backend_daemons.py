"""Real daemons for the backend tests: a private dockerd and an sshd on 127.0.0.1, both our own children.

The dockerd gets its own data root, socket and exec root under the test session's temp dir, no
bridge and no iptables changes, so it never touches a Docker the machine may already run. Its
base image is built from this machine's own bash and busybox (no registry is reachable): about
6 MB, imported in well under a second, so there is nothing worth caching between runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

TEST_IMAGE = "hermes-test/base:1"


def _wait(check, timeout: float, what: str, log: Path | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not become ready in {timeout:g} s\n{detail}")


def eventually(check, timeout: float = 30) -> bool:
    """True once check() is; polled, so a busy machine only makes it slower (timeout: an upper bound)."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)
    return True


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- docker -----------------------------------------------------------------------------------------

def docker_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run a private dockerd"
    for binary in ("dockerd", "docker", "containerd"):
        if shutil.which(binary) is None:
            return f"`{binary}` is not installed (Debian: apt-get install docker.io)"
    if shutil.which("busybox") is None:
        return "`busybox` is not installed (Debian: apt-get install busybox-static), needed for the test image"
    return None


@dataclass
class Dockerd:
    host: str  # value for DOCKER_HOST
    proc: subprocess.Popen

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                              env={**os.environ, "DOCKER_HOST": self.host}, timeout=120)


def start_dockerd(base: Path) -> Dockerd:
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "docker.sock"
    log = base / "dockerd.log"
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
         "--pidfile", str(base / "dockerd.pid"), "-H", f"unix://{sock}",
         "--bridge=none", "--iptables=false", "--ip-masq=false"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    daemon = Dockerd(host=f"unix://{sock}", proc=proc)
    try:
        _wait(lambda: proc.poll() is None and daemon.docker("version", check=False).returncode == 0
              or proc.poll() is not None, 30, "dockerd", log)
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited: {log.read_text(errors='replace')[-2000:]}")
    except BaseException:
        stop_process(proc)
        raise
    return daemon


def build_test_image(daemon: Dockerd, base: Path) -> str:
    """A rootfs of this machine's bash (and the libraries it links) plus busybox applets."""
    root = base / "rootfs"
    for sub in ("bin", "tmp", "root", "etc", "workspace"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    bash = os.path.realpath(shutil.which("bash"))
    libs = subprocess.run(["ldd", bash], capture_output=True, text=True, check=True).stdout
    for line in libs.splitlines():
        path = next((part for part in line.split() if part.startswith("/")), None)
        if path:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(path), target)
    shutil.copy2(bash, root / "bin" / "bash")
    shutil.copy2(os.path.realpath(shutil.which("busybox")), root / "bin" / "busybox")
    applets = subprocess.run(["busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    archive = base / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    daemon.docker("import", "--change", "ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin", str(archive), TEST_IMAGE)
    return TEST_IMAGE


# -- sshd -------------------------------------------------------------------------------------------

def sshd_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to run sshd (privilege separation)"
    for binary in ("/usr/sbin/sshd", "ssh-keygen", "ssh", "scp"):
        if shutil.which(binary) is None:
            return f"`{binary}` is not installed (Debian: apt-get install openssh-server openssh-client)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Sshd:
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    proc: subprocess.Popen
    config: Path
    log: Path


def start_sshd(base: Path) -> Sshd:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    host_key, client_key = base / "host_key", base / "client_key"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = free_port()
    known_hosts = base / "known_hosts"
    key_type, key_data = (base / "host_key.pub").read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_data}\n")
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\n"
        "Subsystem sftp internal-sftp\nMaxSessions 100\nMaxStartups 100\n"
        # bash started by sshd sources ~/.bashrc when it is the first shell level; root's on this
        # machine runs `pyenv init` (a pyenv rehash: ~300 processes, ~0.2 CPU-s per remote command).
        # A host's dotfiles are not what these tests check: the sessions start at SHLVL 1.
        "SetEnv SHLVL=1\n"
    )
    log = base / "sshd.log"
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(config), "-E", str(log)],
                            stdin=subprocess.DEVNULL, start_new_session=True)

    def listening() -> bool:
        if proc.poll() is not None:
            return True
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    _wait(listening, 10, "sshd", log)
    if proc.poll() is not None:
        raise RuntimeError(f"sshd exited: {log.read_text(errors='replace') if log.exists() else ''}")
    return Sshd(port=port, user="root", client_key=client_key, known_hosts=known_hosts, proc=proc,
                config=config, log=log)
