"""The sandbox as an ordinary user (bwrap makes a user namespace too; commands join it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.environments.sandbox import probe

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from tools.environments import sandbox as sb
from tools.environments.local import LocalEnvironment
ws, outside, hh, join, marker = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "joined", sys.argv[6]
spec = sb.spec_for("workspace-write", ws, hermes_home=hh, hermes_cwd=ws)
env = LocalEnvironment(cwd=ws, sandbox=sb.Sandbox(spec, join=join))
out = {"joins": env.sandbox.joins}
for key, command in [("state", "mkdir -p d && cd d && export K=v && echo hi > f"), ("again", "pwd; echo $K; cat f"),
                     ("outside", f"echo x > {outside}/f"), ("hidden", f"cat {hh}/.env"),
                     ("bg", f"sleep {marker} >/dev/null 2>&1 &"), ("ps", "ps -eo args"),
                     ("privs", "grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status; id -u; "
                               "mount -o remount,rw / 2>/dev/null || echo remount refused")]:
    r = env.execute(command, timeout=10)
    out[key] = [r.exit_code, r.output, r.sandbox_blocked]
env.cleanup()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become nobody")
@pytest.mark.skipif(probe() is not None, reason=f"bubblewrap unusable here: {probe()}")
@pytest.mark.parametrize("spawn", ["joined", "bwrap-per-command"])
def test_sandbox_works_for_an_unprivileged_user(spawn: str) -> None:
    import tempfile

    from tools.environments.sandbox_ns import joiner

    if spawn == "joined" and joiner() is None:
        pytest.skip("no nsenter with --wdns (util-linux >= 2.38) here")
    base = Path(tempfile.mkdtemp(prefix="hermes-nobody-", dir="/tmp"))  # pytest's tmp_path is root-only
    try:
        run_as_nobody(base, spawn)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_as_nobody(tmp_path: Path, spawn: str) -> None:
    ws, outside, hh = tmp_path / "ws", tmp_path / "outside", tmp_path / "hh"
    for d in (ws, outside, hh):
        d.mkdir()
    (hh / ".env").write_text("OPENAI_API_KEY=sk-nobody-0123456789\n", encoding="utf-8")
    os.chown(ws, 65534, 65534)
    os.chown(outside, 65534, 65534)
    tmp_path.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "TMPDIR": str(ws)}
    marker = f"741.{os.getpid()}"  # unique: pgrep below sees every test run on the machine
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", SCRIPT,
                           str(ROOT), str(ws), str(outside), str(hh), spawn, marker], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"][0] == 0 and out["again"][1].split() == [str(ws / "d"), "v", "hi"]
    assert out["outside"][2] and "Read-only file system" in out["outside"][1]
    assert "sk-nobody" not in out["hidden"][1] and "No such file" in out["hidden"][1], out["hidden"]
    assert f"sleep {marker}" in out["ps"][1]  # the background child outlived its command
    assert (ws / "d" / "f").stat().st_uid == 65534  # files belong to the user outside
    assert not (outside / "f").exists()
    assert out["joins"] is (spawn == "joined")
    # no capabilities and no new privileges inside: the bind mounts cannot be undone from within
    privs = out["privs"][1]
    assert "CapEff:\t0000000000000000" in privs and "CapPrm:\t0000000000000000" in privs, privs
    assert "NoNewPrivs:\t1" in privs and "remount refused" in privs, privs
    leftovers = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout
    assert leftovers == ""
