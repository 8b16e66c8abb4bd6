"""Cutting a model call from another thread, at any point: before the reply's first byte too.

The openai SDK's sync client blocks in a socket read until the endpoint answers; closing the
response object can only help once there is one (the headers have come). A thread other than the
caller's (batch's watchdog and stop, an embedding program calling `AIAgent.interrupt()`) had to
wait for the endpoint, or for the stall timeout.

    install(client)                 # once per SDK client (llm.make_client): its connections can be cut
    with watching(interrupt): ...   # the calling thread's model call, cut when `interrupt` is set + cut()
    cut(interrupt)                  # after interrupt.set(): shut down the sockets those calls use

`install` wraps the httpcore network backend of the client's transports (proxy ones included) so
each connection's reads and writes note which call (thread) is using it. `cut` shuts the socket
down (never closes it: the fd stays the reader's), so the blocked read returns at once, the SDK
raises a connection error, and the loop, seeing its interrupt set, reports it as an interrupt.
A read that starts after the interrupt shuts its socket down first. A cut connection is not reused
(the pool sees it closed). Not covered: a TCP connect in progress (bounded by the connect timeout).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_lock = threading.Lock()
_live: dict[int, list[Call]] = {}  # id(interrupt event) -> calls in flight that watch it


class Call:
    """One model call in one thread, and the connection it used last."""

    def __init__(self, interrupt: threading.Event) -> None:
        self.interrupt = interrupt
        self.lock = threading.Lock()
        self.stream: _Stream | None = None

    def using(self, stream: _Stream) -> None:
        """About to read or write `stream`: note it; if the interrupt is already set, cut it now."""
        with self.lock:  # ordered with cut(): either it sees this stream, or this sees the interrupt
            self.stream = stream
        if self.interrupt.is_set():
            stream.shutdown()

    def cut(self) -> None:
        with self.lock:
            stream = self.stream
        if stream is not None:
            stream.shutdown()


@contextlib.contextmanager
def watching(interrupt: threading.Event | None) -> Iterator[None]:
    """The model call made in this block (this thread) can be cut by `cut(interrupt)`."""
    if interrupt is None:
        yield
        return
    call, outer = Call(interrupt), getattr(_local, "call", None)
    _local.call = call
    with _lock:
        _live.setdefault(id(interrupt), []).append(call)
    try:
        yield
    finally:
        _local.call = outer
        with _lock:
            calls = _live.get(id(interrupt), [])
            if call in calls:
                calls.remove(call)
            if not calls:
                _live.pop(id(interrupt), None)


def cut(interrupt: threading.Event) -> None:
    """Cut every call in flight that watches `interrupt` (set it first). Any thread; never raises."""
    with _lock:
        calls = list(_live.get(id(interrupt), ()))
    for call in calls:
        call.cut()


class _Stream:
    """An httpcore network stream whose reads and writes note the watching call (see module doc)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _use(self) -> None:
        call = getattr(_local, "call", None)
        if call is not None:
            call.using(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._use()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._use()
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        """End the connection under whoever reads it: the read returns, the fd stays open (closing
        it from this thread could hand the number to another file while the reader still uses it)."""
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: TLS ones too


class _Backend:
    """httpcore's network backend, handing out `_Stream`s."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self.inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self.inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def install(client: Any) -> bool:
    """Make the connections of this SDK client cuttable; False if its HTTP stack is not the one
    expected (then an interrupt still closes the response once it has come, as before)."""
    http = getattr(client, "_client", None)
    transports = [getattr(http, "_transport", None), *(getattr(http, "_mounts", None) or {}).values()]
    pools = [getattr(t, "_pool", None) for t in transports if t is not None]
    pools = [p for p in pools if p is not None and hasattr(p, "_network_backend")]
    for pool in pools:
        backend = pool._network_backend
        if backend is None:  # a pool makes its default backend lazily in some versions
            return False
        if not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)
    return bool(pools)
