"""An interrupt from another thread (batch's watchdog and stop, an embedding program) cuts a model
call that is still waiting for its first byte: the openai SDK call blocks in the socket, so before,
only the endpoint answering (or the 30 s stall timeout) ended it. Real SDK, real scripted server
that holds its reply back."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from run_agent import AIAgent
from scripted_server import Reply

HANG = 30.0  # the server sends nothing for this long; every test must end far sooner


def interrupt_once_sent(llm: Any, agent: AIAgent, requests: int = 1) -> dict[str, float]:
    """Interrupt `agent` once the server holds `requests` requests (not after a fixed time: a loaded
    machine may not have sent it yet); returns when it did, for the caller to time the rest."""
    when: dict[str, float] = {}

    def run() -> None:
        deadline = time.monotonic() + 20
        while len(llm.chat_requests) < requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the request is out: the SDK is now blocked reading the reply
        when["at"] = time.monotonic()
        agent.interrupt()

    threading.Thread(target=run, daemon=True).start()
    return when


def make_agent(llm: Any, **kwargs: Any) -> AIAgent:
    return AIAgent("scripted-model", llm.base_url, "k", enabled_toolsets=["terminal"], record=False, **kwargs)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_an_interrupt_cuts_a_call_waiting_for_its_first_byte(scripted_llm, stream):
    llm = scripted_llm([Reply(content="too late", delay=HANG), Reply(content="next answer")])
    agent = make_agent(llm, stream=stream)
    when = interrupt_once_sent(llm, agent)
    result = agent.run_conversation("hello?")
    cut_after = time.monotonic() - when["at"]
    assert result["status"] == "interrupted" and result["error"] == "interrupted by user"
    assert cut_after < 3, f"the call ran on {cut_after:.1f} s after the interrupt"
    assert result["api_calls"] == 0 and len(llm.chat_requests) == 1  # cut, not retried
    # the cut connection is not reused: the next call goes through
    assert agent.run_conversation("again")["final_response"] == "next answer"
    agent.close()


def test_an_interrupt_cuts_the_summary_call_of_a_compression(scripted_llm):
    llm = scripted_llm([Reply(content=f"answer {n} " + "detail " * 40) for n in range(6)]
                       + [Reply(content="summary", delay=HANG)])
    notices: list[str] = []
    agent = make_agent(llm, on_event=lambda e: notices.append(getattr(e, "text", "")))
    for n in range(6):
        agent.chat(f"question {n}")
    before = list(agent.messages)
    when = interrupt_once_sent(llm, agent, requests=7)
    assert agent.compress("manual") is None
    assert time.monotonic() - when["at"] < 3
    assert agent.messages == before and "compression interrupted" in notices[-1]
    agent.close()


def test_a_call_that_answers_is_untouched_by_an_interrupt_of_another_agent(scripted_llm):
    """The cut is per agent: two agents on one SDK client (batch shares one per 16 threads)."""
    from agent import llm as llm_mod

    llm = scripted_llm(lambda body, index: Reply(content="slow but fine", delay=1.5)
                       if body["messages"][-1]["content"] == "patient" else Reply(content="x", delay=HANG))
    client = llm_mod.make_client(llm.base_url, "k")
    patient = AIAgent("m", llm.base_url, "k", enabled_toolsets=["terminal"], record=False, client=client)
    hasty = AIAgent("m", llm.base_url, "k", enabled_toolsets=["terminal"], record=False, client=client)
    results: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: results.setdefault("patient", patient.run_conversation("patient")))
    worker.start()
    when = interrupt_once_sent(llm, hasty, requests=2)
    assert hasty.run_conversation("hasty")["status"] == "interrupted"
    assert time.monotonic() - when["at"] < 3
    worker.join(20)
    assert results["patient"]["final_response"] == "slow but fine"


class RelayProxy:
    """A plain HTTP forward proxy on 127.0.0.1 (absolute-URI requests, relayed byte for byte): what
    makes `hermes batch --driver auto` pick the thread pool on the SDK's client."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.relayed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: Any) -> None:
        import socket
        from urllib.parse import urlsplit

        head = b""
        while b"\r\n\r\n" not in head:
            if not (data := client.recv(65536)):
                return client.close()
            head += data
        line, rest = head.split(b"\r\n", 1)
        method, target, version = line.split(b" ")
        url = urlsplit(target.decode())
        upstream = socket.create_connection((url.hostname, url.port))
        upstream.sendall(b" ".join([method, url.path.encode(), version]) + b"\r\n" + rest)
        self.relayed += 1

        def pipe(src: Any, dst: Any) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self.listener.close()


def test_the_cut_works_through_an_http_proxy(scripted_llm, monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    proxy = RelayProxy()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    try:
        llm = scripted_llm([Reply(content="too late", delay=HANG), Reply(content="via the proxy")])
        agent = make_agent(llm)
        when = interrupt_once_sent(llm, agent)
        assert agent.run_conversation("hello?")["status"] == "interrupted"
        assert time.monotonic() - when["at"] < 3
        assert agent.run_conversation("again")["final_response"] == "via the proxy"
        assert proxy.relayed == 2  # both calls went through the proxy
        agent.close()
    finally:
        proxy.close()
