"""Issue 19, H1: an end-of-turn token that a proxy hands back as text (Atropos' ManagedServer decodes
with special tokens when tools are on) must not stay in the answer, or every later prompt carries it
next to the template's own: `<|im_end|><|im_end|>`."""

from __future__ import annotations

import pytest

from run_agent import AIAgent
from scripted_server import Reply


@pytest.mark.parametrize("stream", [True, False])
def test_leaked_end_token_is_not_kept_or_echoed(scripted_llm, stream):
    llm = scripted_llm([Reply(content="41<|im_end|>"), Reply(content="Yes, 42.<|eot_id|>\n")])
    agent = AIAgent(model="m", base_url=llm.base_url, api_key="k", enabled_toolsets=["terminal"], stream=stream)
    assert agent.chat("What is 6*7?") == "41"
    assert agent.chat("Sure?") == "Yes, 42."
    echoed = [m for m in llm.chat_requests[1].body["messages"] if m["role"] == "assistant"]
    assert echoed == [{"role": "assistant", "content": "41"}]


def test_only_trailing_end_of_turn_markup_goes():
    from agent.llm import strip_end_of_turn

    assert strip_end_of_turn("a <|im_end|><|im_end|>\n") == "a"
    assert strip_end_of_turn("x<|endoftext|>") == "x"
    assert strip_end_of_turn("was <s>$10</s>") == "was <s>$10</s>"  # HTML, not Llama 2's end token
    assert strip_end_of_turn("<|im_end|> in the middle stays") == "<|im_end|> in the middle stays"
    assert strip_end_of_turn("<b>bold</b>") == "<b>bold</b>"
    assert strip_end_of_turn("") == ""
