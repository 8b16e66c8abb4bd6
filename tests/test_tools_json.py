"""agent/tools_json.py: the tools' JSON made once per list of schemas, byte-for-byte what
json.dumps gives, and never served for a different list."""

from __future__ import annotations

import json

import model_tools
from agent import tools_json
from recording.sharegpt import _hermes_system_prompt, hermes_system_prompt


def test_every_agent_with_the_same_tools_shares_their_schemas():
    first, second = (model_tools.get_tool_definitions(["terminal", "file"]) for _ in range(2))
    assert first == second and all(a is b for a, b in zip(first, second, strict=True))


def test_request_body_is_the_body_as_json():
    tools = model_tools.get_tool_definitions(["terminal", "file"])
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo \"quoted\""}], "tools": tools,
            "stream": True}
    assert json.loads(tools_json.request_body(body)) == body
    assert json.loads(tools_json.request_body({"tools": tools})) == {"tools": tools}
    assert tools_json.request_body({"model": "m", "tools": []}) == json.dumps({"model": "m", "tools": []}).encode()


def test_a_different_list_of_tools_gets_its_own_text():
    terminal = model_tools.get_tool_definitions(["terminal"])
    both = model_tools.get_tool_definitions(["terminal", "file"])
    assert tools_json.tools_json(terminal) == json.dumps(terminal)
    assert tools_json.tools_json(both) == json.dumps(both)
    assert tools_json.tools_json(both[::-1]) == json.dumps(both[::-1])  # order is part of the list
    # a list with an equal but new schema object is a new key, never a stale text
    copy = [dict(terminal[0], function=dict(terminal[0]["function"], description="changed"))]
    assert tools_json.tools_json(copy) == json.dumps(copy)
    assert hermes_system_prompt(both) == _hermes_system_prompt(both)
    assert hermes_system_prompt(terminal) != hermes_system_prompt(both)


def test_the_memo_stays_bounded_and_right_past_its_size():
    memo = tools_json.ByIdentity(json.dumps)
    lists = [[{"n": i}] for i in range(tools_json.MAX_LISTS + 10)]
    assert [memo(tools) for tools in lists] == [json.dumps(tools) for tools in lists]
    assert len(memo._memo) <= tools_json.MAX_LISTS
    assert [memo(tools) for tools in lists[:5]] == [json.dumps(tools) for tools in lists[:5]]
