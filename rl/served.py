"""The TokenProxy that `hermes rl proxy` serves: rollouts open on their first request, and a trainer
gets finished ones while the proxy runs.

    POST   /rollouts/<id>/finish   end the rollout: its record comes back and its JSONL line is
                                   appended to --output at once (flushed); later calls on the id: 409
    GET    /rollouts/<id>          its record now (an open one waits for a call in flight)
    GET    /rollouts               {"open": [ids], "finished": [ids still held]}
    DELETE /rollouts/<id>          end it if open, return its record and forget it (frees memory)

A record is {"rollout_id", "finished", "sequences": [{tokens, mask, logprobs, prompt_len, kind,
calls, finish_reason}], "calls": [...]}. The last `keep` finished records stay retrievable; all
are in --output. When the proxy stops, the rollouts still open are appended with finished false.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from rl.proxy import ProxyError, TokenProxy
from rl.tracker import RolloutTrack


def rollout_record(rollout_id: str, track: RolloutTrack, finished: bool) -> dict[str, Any]:
    return {"rollout_id": rollout_id, "finished": finished,
            "sequences": [{k: v for k, v in dataclasses.asdict(s).items() if k != "text"} for s in track.sequences],
            "calls": [dataclasses.asdict(c) for c in track.calls]}


class ServedProxy(TokenProxy):
    """TokenProxy + auto-open + the /rollouts routes + the JSONL output (module docstring)."""

    def __init__(self, *args: Any, output: Path, keep: int = 1024, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.output = output
        self.keep = keep
        self.written = 0
        self._out: Any = None
        self._out_lock = threading.Lock()
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._ended: set[str] = set()  # every finished id, held or not: an id is never reused

    def open_output(self) -> None:
        """Create (replace) the output file: it holds this run's rollouts. Call after start()."""
        with self._out_lock:
            if self._out is None:
                self._out = self.output.open("w", encoding="utf-8")

    # -- requests ---------------------------------------------------------------------------------------
    def complete(self, rollout_id: str, body: dict[str, Any]) -> Any:
        """Tracks a rollout from its first request: clients need no API of ours to open one."""
        if rollout_id:
            with self._lock:
                ended, known = rollout_id in self._ended, rollout_id in self._tracks
            if ended:
                raise ProxyError(409, f"rollout {rollout_id!r} is finished; start a new rollout id")
            if not known:
                try:
                    self.open(rollout_id)
                except ValueError:  # opened by a concurrent first request
                    pass
        return super().complete(rollout_id, body)

    def route(self, method: str, path: str) -> tuple[int, Any] | None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] != "rollouts":
            return None
        try:
            if parts == ["rollouts"] and method == "GET":
                with self._lock:
                    return 200, {"open": list(self._tracks), "finished": list(self._finished)}
            if len(parts) == 2 and method == "GET":
                return 200, self.record(parts[1])
            if len(parts) == 3 and parts[2] == "finish" and method == "POST":
                return 200, self.finish(parts[1])
            if len(parts) == 2 and method == "DELETE":
                record = self.finish(parts[1])
                with self._lock:
                    self._finished.pop(parts[1], None)
                return 200, record
        except ProxyError as exc:
            return exc.status, str(exc)
        return 404, f"no route {method} {path}: GET /rollouts, GET|DELETE /rollouts/<id>, POST /rollouts/<id>/finish"

    # -- rollouts ---------------------------------------------------------------------------------------
    def record(self, rollout_id: str) -> dict[str, Any]:
        with self._lock:
            done = self._finished.get(rollout_id)
            track = self._tracks.get(rollout_id)
            ended = rollout_id in self._ended
        if done is not None:
            return done
        if track is None:
            raise ProxyError(404, f"rollout {rollout_id!r} was finished and is no longer held: see {self.output}"
                             if ended else f"unknown rollout {rollout_id!r}")
        with track.lock:
            return rollout_record(rollout_id, track, finished=False)

    def finish(self, rollout_id: str) -> dict[str, Any]:
        """End the rollout (once; finishing again returns the same record) and write its line."""
        with self._lock:
            if rollout_id in self._finished:
                return self._finished[rollout_id]
            track = self._tracks.get(rollout_id)
        if track is None:
            raise ProxyError(404, f"unknown rollout {rollout_id!r}" if rollout_id not in self._ended else
                             f"rollout {rollout_id!r} was finished and is no longer held: see {self.output}")
        with track.lock:  # a call in flight completes first
            with self._lock:
                if self._tracks.get(rollout_id) is not track:  # a concurrent finish won
                    return self._finished.get(rollout_id) or rollout_record(rollout_id, track, True)
                del self._tracks[rollout_id]
                track.closed = True
                record = rollout_record(rollout_id, track, finished=True)
                self._ended.add(rollout_id)
                self._finished[rollout_id] = record
                while len(self._finished) > self.keep:
                    self._finished.popitem(last=False)
            self._write(record)
        return record

    def write_open(self) -> int:
        """Append every rollout still open (finished: false) and close the file; lines written in all."""
        with self._lock:
            tracks = list(self._tracks.items())
            self._tracks.clear()
        for rollout_id, track in tracks:
            with track.lock:
                track.closed = True
                self._write(rollout_record(rollout_id, track, finished=False))
        with self._out_lock:
            if self._out is not None:
                self._out.close()
        return self.written

    def _write(self, record: dict[str, Any]) -> None:
        self.open_output()
        with self._out_lock:
            self._out.write(json.dumps(record) + "\n")
            self._out.flush()
            self.written += 1
