"""The `messages` export through vLLM's Hermes tool chat template
(`examples/tool_chat_template_hermes.jinja` in vllm-project/vllm, Apache-2.0): every call's prompt
renders from the row exactly as the server rendered it, and every assistant turn as exactly the text
the model sampled. (The template is not prefix-stable after a tool result: the test pins where.) The export also carries each tool result's `name` (older copies of this template
raised without it; the released one does not need it).

The template is not vendored here. It is read from $HERMES_VLLM_HERMES_TEMPLATE when set, else taken
once per machine from vLLM's sdist on PyPI (the one file streamed out of the archive, checked against
its pinned sha256) into ~/.cache/hermes-tests/vllm-<version>/; when that download fails (offline) the
test is skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import urllib.request
from pathlib import Path

import pytest

from scripted_server import Reply, ToolCall
from tests.exports.toolkit import KEY, VllmHooks, export
from tests.registry_cache import FetchFailed, cached_dir

NAME = "tool_chat_template_hermes.jinja"
ENV = os.environ.get("HERMES_VLLM_HERMES_TEMPLATE")  # read at import: test fixtures clear HERMES_* variables
VERSION = "0.33.0"  # every vLLM release since 0.6.2 ships this same template text
SDIST = ("https://files.pythonhosted.org/packages/f7/25/aa5684e9c59d6fc75f78926b7f15e8d9adc7de2d9e6e7575b80776ad8169/"
         f"vllm-{VERSION}.tar.gz")  # 47 MB; the template sits ~27 MB in, where the stream stops
TEMPLATE_SHA256 = "9d08161b0665b9d3459943bb57c7a680f42e77cdbc97d4f87b9426b03c8bab89"
END = "<|im_end|>"


def extract_template(into: Path) -> None:
    """Streams vLLM's sdist from PyPI's file host until the template, and writes only that file."""
    member = f"vllm-{VERSION}/examples/{NAME}"
    data = None
    try:
        with urllib.request.urlopen(SDIST, timeout=30) as response, \
                tarfile.open(fileobj=response, mode="r|gz") as archive:
            for entry in archive:
                if entry.name == member and (handle := archive.extractfile(entry)) is not None:
                    data = handle.read()
                    break
    except (OSError, tarfile.TarError, EOFError) as exc:  # URLError and socket timeouts are OSErrors
        raise FetchFailed(f"{SDIST}: {exc}") from exc
    if data is None:
        raise AssertionError(f"{member} is not in {SDIST}")
    digest = hashlib.sha256(data).hexdigest()
    assert digest == TEMPLATE_SHA256, f"{member} has sha256 {digest}, pinned {TEMPLATE_SHA256}"
    (into / NAME).write_bytes(data)


def vllm_template() -> str:
    """$HERMES_VLLM_HERMES_TEMPLATE, or the released template from the per-machine cache."""
    if ENV:
        if not Path(ENV).is_file():
            pytest.fail(f"HERMES_VLLM_HERMES_TEMPLATE={ENV} is not a file: point it at vLLM's {NAME} or unset it")
        return Path(ENV).read_text(encoding="utf-8")
    directory = cached_dir(f"vllm-{VERSION}", f"vLLM {VERSION}'s examples/{NAME}", extract_template)
    return (directory / NAME).read_text(encoding="utf-8")


def sampled(reply: Reply) -> str:
    """What a model trained on this template samples: its own tool-call shape, then the end token."""
    if not reply.tool_calls:
        return reply.content + END
    blocks = ['<tool_call>\n{"name": "' + c.name + '", "arguments": ' + json.dumps(c.arguments, ensure_ascii=False)
              + '}\n</tool_call>' for c in reply.tool_calls]
    return "\n".join(blocks) + END


def responder(body: dict, index: int) -> Reply:
    last = body["messages"][-1]
    if last["role"] == "tool":
        out = Reply(f"It printed {index}.")
    elif "both" in last["content"]:
        out = Reply(tool_calls=[ToolCall("terminal", {"command": "echo a"}, id=f"a_{index}"),
                                ToolCall("terminal", {"command": "echo 'b c'"}, id=f"b_{index}")])
    else:
        out = Reply(tool_calls=[ToolCall("terminal", {"command": f"echo {index}"}, id=f"call_{index}")])
    out.raw_text = sampled(out)
    return out


def tokenizer(directory: Path, template: str):
    from tests.exports.toolkit import build_tokenizer

    return build_tokenizer(directory, template, vocab_size=600)


def test_messages_render_through_vllms_hermes_template_as_served_and_sampled(scripted_llm, log_dir, tmp_path):
    from run_agent import AIAgent

    tok = tokenizer(tmp_path / "tok", vllm_template())
    server = VllmHooks(tok)  # vLLM serving with this template
    llm = scripted_llm(responder, **server.server_kwargs())
    agent = AIAgent(model="scripted-model", base_url=llm.base_url, api_key=KEY, enabled_toolsets=["terminal"],
                    token_capture=True)
    agent.chat("first")
    agent.chat("do both")
    agent.close()
    (row,) = export(log_dir / f"session_{agent.session_id}.jsonl", None, tmp_path / "m.jsonl", fmt="messages")
    assert [m["name"] for m in row["messages"] if m["role"] == "tool"] == ["terminal"] * 3

    def render(messages: list[dict], prompt: bool) -> str:
        return tok.apply_chat_template(messages, tools=row["tools"], tokenize=False, add_generation_prompt=prompt)

    assistant_at = [i for i, m in enumerate(row["messages"]) if m["role"] == "assistant"]
    assert len(assistant_at) == len(server.calls) == 4
    for at, served in zip(assistant_at, server.calls, strict=True):
        seen = tok.decode(served["prompt"])
        assert render(row["messages"][:at], True) == seen  # the prompt, as the server rendered it
        # ... and the turn, as the model sampled it (the template adds a newline after the end token)
        full = render(row["messages"][: at + 1], False)
        assert full.endswith("<|im_start|>assistant\n" + served["text"] + "\n")
        before = full[: -len(served["text"]) - 1]
        if row["messages"][at - 1]["role"] != "tool":
            assert before == seen
        else:  # vLLM's template ends a tool turn "</tool_response><|im_end|>" when it is the last message
            # (as in every prompt) but "</tool_response>\n<|im_end|>" before an answer: a re-render of the
            # conversation is not a prefix of what the model was served; the token exports keep the served ids
            cut = seen.rindex(END + "<|im_start|>assistant\n")
            assert before == seen[:cut] + "\n" + seen[cut:]
