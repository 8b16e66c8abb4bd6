"""A stand-in `apptainer` for machines without it: records every command line, runs exec'd commands here.

    build OUT REF                 writes a small file to OUT (fails when REF contains "unreachable")
    instance start ... IMG NAME   remembers NAME
    exec instance://NAME CMD...   runs CMD on this machine (so state, timeouts and output are real)
    instance stop NAME            kills what the instance's commands left running, forgets NAME

Each call appends its argv as one JSON line to $FAKE_APPTAINER_LOG.
"""

import json
import os
import signal
import sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_APPTAINER_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\n")
instances = Path(os.environ["FAKE_APPTAINER_LOG"] + ".instances")
instances.mkdir(exist_ok=True)

if args[:1] == ["build"]:
    out, ref = args[1], args[2]
    if "unreachable" in ref:
        sys.stderr.write(f"INFO:    Starting build...\nFATAL:   While performing build: {ref}: no such host\n")
        sys.exit(255)
    Path(out).write_text(f"fake sif for {ref}\n", encoding="utf-8")
elif args[:2] == ["instance", "start"]:
    (instances / args[-1]).write_text(args[-2])
elif args[:2] == ["instance", "stop"]:
    name = args[2]
    pgids = Path(f"/tmp/.hermes-{name}/pgids")
    if pgids.exists():
        for line in pgids.read_text(encoding="utf-8").split():
            try:
                os.killpg(int(line), signal.SIGKILL)
            except ProcessLookupError:
                pass
    os.system(f"rm -rf /tmp/.hermes-{name}")
    (instances / name).unlink(missing_ok=True)
elif args[:1] == ["exec"] and args[1].startswith("instance://"):
    if not (instances / args[1].removeprefix("instance://")).exists():
        sys.stderr.write(f"FATAL:   no instance found with name {args[1]}\n")
        sys.exit(255)
    os.execvp(args[2], args[2:])
else:
    sys.stderr.write(f"fake apptainer: unsupported {args}\n")
    sys.exit(2)
