"""The scripted server's endpoint faults and strict mode, seen through the real openai SDK and raw HTTP."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from scripted_server import Reply, ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parent.parent
CALL = {"id": "call_1", "type": "function", "function": {"name": "terminal", "arguments": "{}"}}


def sdk(llm: ScriptedLLM) -> OpenAI:
    return OpenAI(base_url=llm.base_url, api_key="k", max_retries=0)


def chat(llm: ScriptedLLM, messages: list[dict], **kwargs):
    return sdk(llm).chat.completions.create(model="m", messages=messages, **kwargs)


def raw_post(llm: ScriptedLLM, body: dict) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", llm.port, timeout=5)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_strict_accepts_a_well_formed_tool_conversation():
    with ScriptedLLM([Reply(content="ok")], strict=True) as llm:
        messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                    {"role": "assistant", "content": None, "tool_calls": [CALL]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "out"}]
        assert chat(llm, messages).choices[0].message.content == "ok"
        assert llm.rejections == []


@pytest.mark.parametrize(("messages", "message", "param"), [
    ([{"role": "user", "content": "u"}, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
     "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
     "The following tool_call_ids did not have response messages: call_1", "messages.[1].role"),
    ([{"role": "user", "content": "u"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
      {"role": "user", "content": "again"}],
     "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
     "The following tool_call_ids did not have response messages: call_1", "messages.[1].role"),
    ([{"role": "user", "content": "u"}, {"role": "tool", "tool_call_id": "call_9", "content": "x"}],
     "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
     "messages.[1].role"),
    ([{"role": "user", "content": "u"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
      {"role": "tool", "tool_call_id": "call_2", "content": "x"}],
     "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
     "messages.[2].role"),
    ([{"role": "user", "content": None}], "Invalid value for 'content': expected a string, got null.",
     "messages.[0].content"),
    ([{"role": "robot", "content": "x"}], "Invalid value: 'robot'. Supported values are: 'system', 'assistant', "
     "'user', 'function', 'tool', and 'developer'.", "messages[0].role"),
    ([{"role": "user", "content": "u"}, {"role": "assistant", "content": None,
                                         "tool_calls": [{**CALL, "id": ""}]}],
     "Invalid 'messages[1].tool_calls[0].id': empty string. Expected a string with minimum length 1, but got an "
     "empty string instead.", "messages[1].tool_calls[0].id"),
])
def test_strict_refuses_malformed_histories_like_openai(messages, message, param):
    with ScriptedLLM([Reply(content="never")], strict=True) as llm:
        with pytest.raises(openai.BadRequestError) as info:
            chat(llm, messages)
        assert info.value.status_code == 400
        assert info.value.body == {"message": message, "type": "invalid_request_error", "param": param,
                                   "code": info.value.body["code"]}
        assert llm.rejections == [message] and llm.calls == 0  # the script entry is still there


def test_lenient_by_default():
    with ScriptedLLM([Reply(content="fine")]) as llm:
        assert chat(llm, [{"role": "assistant", "content": None, "tool_calls": [CALL]}]).choices[0].message.content


def test_cli_strict_flag(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scripted_server", "--port", "0", "--strict"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        with pytest.raises(openai.BadRequestError):
            OpenAI(base_url=url, api_key="k", max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "tool", "tool_call_id": "x", "content": "y"}])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_body_fault_sends_html_or_json_verbatim_with_its_type():
    with ScriptedLLM([Reply(body="<html>hi</html>"), Reply(body='{"a": 1}', content_type="application/json"),
                      Reply(body=b"\xff\xfe", status=502, content_type="text/plain")]) as llm:
        status, headers, data = raw_post(llm, {"stream": True})
        assert (status, headers["content-type"], data) == (200, "text/html; charset=utf-8", b"<html>hi</html>")
        status, headers, data = raw_post(llm, {})
        assert (status, headers["content-type"], data) == (200, "application/json", b'{"a": 1}')
        assert raw_post(llm, {})[::2] == (502, b"\xff\xfe")


def test_non_streamed_reply_to_a_streaming_request():
    with ScriptedLLM([Reply(content="whole", non_streamed=True)]) as llm:
        status, headers, data = raw_post(llm, {"stream": True, "messages": []})
        assert headers["content-type"] == "application/json"
        assert json.loads(data)["choices"][0]["message"]["content"] == "whole"


def test_cut_stream_ends_cleanly_without_finish_reason_or_done():
    with ScriptedLLM([Reply(content="abcdefgh" * 4, cut_after=3)]) as llm:
        _, _, data = raw_post(llm, {"stream": True})
        events = [line for line in data.decode().split("\n\n") if line]
        assert len(events) == 3 and "[DONE]" not in data.decode() and '"finish_reason": "stop"' not in data.decode()


def test_split_bytes_cuts_multibyte_characters_and_the_sdk_reassembles_them():
    text = "😀é日" * 10
    with ScriptedLLM([Reply(content=text, split_bytes=5)]) as llm:
        stream = sdk(llm).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text


@pytest.mark.parametrize("stall_after", [0, 2])
def test_stall_holds_the_stream_then_finishes(stall_after):
    with ScriptedLLM([Reply(content="x" * 32, stall=0.4, stall_after=stall_after)] * 2) as llm:
        started = time.monotonic()
        stream = sdk(llm).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "x" * 32
        assert time.monotonic() - started >= 0.4
        with pytest.raises(Exception) as info:  # a read timeout: the SDK's when opening, httpx's mid-stream
            reply = OpenAI(base_url=llm.base_url, api_key="k", max_retries=0, timeout=0.2).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=stall_after == 0)
            list(reply) if stall_after == 0 else None
        assert "Timeout" in type(info.value).__name__


def test_omitted_call_ids_and_chunk_chars():
    calls = [ToolCall("terminal", {"command": "a" * 40})]
    with ScriptedLLM([Reply(tool_calls=calls, omit_call_ids=True, chunk_chars=32)] * 2) as llm:
        _, _, data = raw_post(llm, {"stream": True})
        assert '"id": "call_' not in data.decode()
        assert data.decode().count('"arguments": "') == 1 + 2  # the head, then 51 characters in 2 pieces
        body = json.loads(raw_post(llm, {})[2])
        assert "id" not in body["choices"][0]["message"]["tool_calls"][0]
