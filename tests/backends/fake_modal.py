"""A stand-in for the Modal SDK boundary (`RealModal`): sandboxes are local bash processes.

Commands really run (so cwd/env persistence, timeouts, truncation and sudo behave as they would in a
sandbox); what the backend asked Modal for is recorded for the assertions. No network, ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class _Stdin:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    def write_eof(self) -> None:
        self.proc.stdin.close()

    def drain(self) -> None:
        pass


class _Stream:
    def __init__(self, pipe) -> None:
        self.fd = pipe.fileno()
        self.pipe = pipe

    def __iter__(self):
        while chunk := os.read(self.fd, 65536):
            yield chunk
        self.pipe.close()


class FakeProcess:
    def __init__(self, args: tuple[str, ...]) -> None:
        self.proc = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.stdin, self.stdout, self.stderr = _Stdin(self.proc), _Stream(self.proc.stdout), _Stream(self.proc.stderr)

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self) -> int:
        return self.proc.wait()


class FakeSandbox:
    def __init__(self, sdk: FakeModal, name: str, profile) -> None:
        self.sdk, self.name, self.profile = sdk, name, profile
        self.terminated = False
        self.execs = 0

    def exec(self, *args: str, text: bool = True, **_: object) -> FakeProcess:
        if self.terminated:
            raise RuntimeError("Sandbox has already terminated")
        self.execs += 1
        return FakeProcess(args)

    def poll(self) -> int | None:
        return 0 if self.terminated else None

    def terminate(self) -> None:
        if self.terminated:
            return
        self.terminated = True
        self.sdk.terminated.append(self.name)
        pgids = Path(f"/tmp/.hermes-{self.name}/pgids")  # what a real sandbox's end would take with it
        if pgids.exists():
            for line in pgids.read_text(encoding="utf-8").split():
                try:
                    os.killpg(int(line), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        subprocess.run(["rm", "-rf", f"/tmp/.hermes-{self.name}"])


class FakeModal:
    """Implements create_sandbox / from_name like RealModal; `sandboxes` outlive a 'process restart'."""

    def __init__(self) -> None:
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.created: list[tuple[str, str]] = []  # (profile name, sandbox name)
        self.terminated: list[str] = []
        self.lookups: list[tuple[str, str]] = []

    def create_sandbox(self, profile, name: str) -> FakeSandbox:
        sandbox = FakeSandbox(self, name, profile)
        self.sandboxes[name] = sandbox
        self.created.append((profile.name, name))
        return sandbox

    def from_name(self, app_name: str, name: str) -> FakeSandbox | None:
        self.lookups.append((app_name, name))
        sandbox = self.sandboxes.get(name)
        return sandbox if sandbox is not None and not sandbox.terminated else None

    def alive(self) -> list[str]:
        return [name for name, sb in self.sandboxes.items() if not sb.terminated]
