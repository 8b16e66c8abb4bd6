"""Strict mode: reject malformed conversations the way OpenAI's chat-completions API does.

OpenAI checks the history before generating and answers HTTP 400 with an
``invalid_request_error``; the messages below are the API's own wording (typos included), so a
client's error handling sees what it would see in production. Lenient servers (vLLM, llama.cpp)
accept most of these, which is how broken histories go unnoticed until a strict endpoint is used.
"""

from __future__ import annotations

from typing import Any

ROLES = ("system", "assistant", "user", "function", "tool", "developer")


def _error(message: str, param: str | None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _check_tool_calls(i: int, calls: Any) -> dict | None:
    if not isinstance(calls, list):
        return _error(f"Invalid type for 'messages[{i}].tool_calls': expected an array, but got "
                      f"{type(calls).__name__} instead.", f"messages[{i}].tool_calls", "invalid_type")
    for j, call in enumerate(calls):
        where = f"messages[{i}].tool_calls[{j}]"
        if not isinstance(call, dict):
            return _error(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
        if "id" not in call:
            return _error(f"Missing required parameter: '{where}.id'.", f"{where}.id", "missing_required_parameter")
        if not isinstance(call["id"], str) or not call["id"]:
            return _error(f"Invalid '{where}.id': empty string. Expected a string with minimum length 1, "
                          "but got an empty string instead.", f"{where}.id", "empty_string")
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return _error(f"Missing required parameter: '{where}.function.name'.", f"{where}.function.name",
                          "missing_required_parameter")
        if not isinstance(function.get("arguments"), str):
            return _error(f"Invalid type for '{where}.function.arguments': expected a string, but got "
                          f"{type(function.get('arguments')).__name__} instead.", f"{where}.function.arguments",
                          "invalid_type")
    return None


def check_request(body: dict) -> dict | None:
    """The OpenAI-style 400 error body for a request OpenAI would refuse, or None if it is valid."""
    messages = body.get("messages")
    if messages is None:
        return _error("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        return _error("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                      "empty array instead.", "messages", "empty_array")
    if body.get("stream_options") is not None and not body.get("stream"):
        return _error("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      "stream_options", None)
    pending: dict[str, int] = {}  # tool_call_id -> index of the assistant message awaiting its result
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return _error(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]", "invalid_type")
        role = message.get("role")
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            return _error(f"Invalid value: '{role}'. Supported values are: {supported}.",
                          f"messages[{i}].role", "invalid_value")
        if role != "tool" and pending:
            first = min(pending.values())
            ids = ", ".join(pending)
            return _error("An assistant message with 'tool_calls' must be followed by tool messages responding "
                          f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                          f"{ids}", f"messages.[{first}].role", None)
        content = message.get("content")
        if role in ("user", "system", "developer", "tool") and content is None:
            return _error("Invalid value for 'content': expected a string, got null.", f"messages.[{i}].content", None)
        if content is not None and not isinstance(content, (str, list)):
            return _error(f"Invalid type for 'messages[{i}].content': expected one of a string or array of "
                          f"objects, but got {type(content).__name__} instead.", f"messages[{i}].content",
                          "invalid_type")
        if role == "assistant":
            calls = message.get("tool_calls")
            if calls is not None:
                if error := _check_tool_calls(i, calls):
                    return error
                pending = {call["id"]: i for call in calls}
            elif content is None:
                return _error("Invalid value for 'content': expected a string, got null.",
                              f"messages.[{i}].content", None)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                return _error("Missing parameter 'tool_call_id': messages with role 'tool' must have a "
                              "'tool_call_id'.", f"messages.[{i}].tool_call_id", "missing_required_parameter")
            if call_id not in pending:
                return _error("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                              "message with 'tool_calls'.", f"messages.[{i}].role", None)
            del pending[call_id]
    if pending:
        ids = ", ".join(pending)
        return _error("An assistant message with 'tool_calls' must be followed by tool messages responding to "
                      f"each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}",
                      f"messages.[{min(pending.values())}].role", None)
    return None
