"""Toolset composition and the tool registry's view of it."""

from __future__ import annotations

import pytest

import model_tools
import toolsets


def test_includes_resolve_recursively_in_order():
    assert toolsets.resolve_toolset("debugging") == [
        "terminal", "process", "read_file", "write_file", "patch", "search_files", "web_search", "web_extract",
        "web_crawl", "todo",
    ]


def test_all_and_star_cover_every_toolset():
    everything = toolsets.resolve_toolset("all")
    assert everything == toolsets.resolve_toolset("*")
    for name in toolsets.get_toolset_names():
        assert set(toolsets.resolve_toolset(name)) <= set(everything)


def test_cycles_are_cut_not_fatal(monkeypatch):
    monkeypatch.setitem(toolsets.TOOLSETS, "a", {"description": "", "tools": ["terminal"], "includes": ["b"]})
    monkeypatch.setitem(toolsets.TOOLSETS, "b", {"description": "", "tools": ["read_file"], "includes": ["a"]})
    assert toolsets.resolve_toolset("a") == ["terminal", "read_file"]


def test_safe_has_no_terminal_or_writes():
    safe = set(toolsets.resolve_toolset("safe"))
    assert not safe & {"terminal", "write_file", "patch"}


def test_unknown_toolset_suggests_a_name():
    with pytest.raises(toolsets.UnknownToolsetError, match="did you mean terminal"):
        toolsets.parse_toolset_list("terminl")


def test_custom_toolset(monkeypatch):
    monkeypatch.setattr(toolsets, "TOOLSETS", dict(toolsets.TOOLSETS))
    toolsets.create_custom_toolset("mine", "mine", tools=["read_file"], includes=["terminal"])
    assert toolsets.resolve_toolset("mine") == ["read_file", "terminal", "process"]
    with pytest.raises(toolsets.UnknownToolsetError):
        toolsets.create_custom_toolset("bad", includes=["missing"])


def test_definitions_filter_enabled_disabled_and_unavailable():
    names = lambda defs: [d["function"]["name"] for d in defs]  # noqa: E731
    assert names(model_tools.get_tool_definitions(["terminal"])) == ["terminal", "process"]
    everything = names(model_tools.get_tool_definitions())
    assert "terminal" in everything and "web_search" not in everything  # not available here
    assert "terminal" not in names(model_tools.get_tool_definitions(None, ["terminal"]))


def test_unavailable_tools_have_reasons(monkeypatch):
    monkeypatch.setenv("CHROMIUM_PATH", "/nonexistent/chromium")  # the browser tools' requirement
    statuses = {s.name: s for s in model_tools.tool_availability()}
    assert statuses["terminal"].available and statuses["terminal"].reason is None
    assert not statuses["browser_click"].available and statuses["browser_click"].reason
    assert not statuses["web_search"].available and "FIRECRAWL_API_KEY" in statuses["web_search"].reason


def test_handle_function_call_never_raises(monkeypatch):
    import json

    from tools.registry import REGISTRY, Tool, register

    def boom(args, ctx):
        raise RuntimeError("kaput")

    monkeypatch.setitem(REGISTRY, "boom", Tool("boom", "test", "explodes", {"type": "object", "properties": {}}, boom))
    assert "kaput" in json.loads(model_tools.handle_function_call("boom", {}))["error"]
    assert "unknown tool" in json.loads(model_tools.handle_function_call("nope", "{}"))["error"]
    assert "JSON object" in json.loads(model_tools.handle_function_call("boom", "[1]"))["error"]
    del register  # imported to show the public API; registration above uses the dict directly


def test_arguments_are_coerced_when_obvious():
    import json

    result = json.loads(model_tools.handle_function_call("terminal", {"command": "echo hi", "timeout": "5"}))
    assert result["exit_code"] == 0
    bad = json.loads(model_tools.handle_function_call("terminal", {"command": ["not", "a", "string"]}))
    assert "must be string" in bad["error"]


def test_first_request_tool_schemas_stay_small():
    import json

    size = len(json.dumps(model_tools.get_tool_definitions()))
    assert size < 8500, size  # 8000 before the todo tool (issue 18), whose schema is kept to ~550
