"""Parsers for the tool-call formats open models write as text when no server-side parser turns them
into structured `tool_calls`. Each takes the whole content and returns (calls, errors); the caller
(agent/tool_calls.py) picks the parser by marker, so text without a marker costs a few `in` checks.

Formats (one test fixture each in tests/test_text_call_formats.py):
- Hermes / Qwen2.5: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (also single-quoted
  dicts and GLM's `name{...}` inside the tags); Qwen3-Coder's XML inside or without the tags:
  `<function=NAME><parameter=KEY>value</parameter></function>`
- Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}]` and `[TOOL_CALLS]name[ARGS]{...}`
- Llama 3.x: `<|python_tag|>{"name": ..., "parameters": {...}}` (several joined by `;`) or a
  Python call; bare `{"name": ..., "parameters": {...}}`
- Gemma: ```` ```tool_code\\nname(key="v")\\n``` ````, FunctionGemma
  `<start_function_call>call:name{key:<escape>v<escape>}<end_function_call>`, Gemma 4
  `<|tool_call>call:name{key:<|"|>v<|"|>}<tool_call|>`
- DeepSeek V3 / V3.1: `<｜tool▁call▁begin｜>function<｜tool▁sep｜>name\\n```json\\n{...}\\n```<｜tool▁call▁end｜>`
  and `<｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜>`
- bare JSON: the whole reply is an object (or a list of them) naming a known tool with
  "arguments" or "parameters".
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schemas = Mapping[str, dict[str, Any]]  # tool name -> JSON schema of its parameters


@dataclass(frozen=True)
class TextToolCall:
    name: str
    arguments: dict[str, Any]


class CallError(ValueError):
    """One call that could not be read; the message goes back to the model as its result."""


Parsed = tuple[list[TextToolCall], list[str]]
_PARSE_FAILURES = (ValueError, SyntaxError, TypeError, RecursionError, MemoryError, KeyError, IndexError)


def snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text[: limit * 4].split())
    return flat[:limit] + ("…" if len(flat) > limit else "")


def _collect(label: str, bodies: list[str], parse: Any) -> Parsed:
    """Parse each body; a failure becomes one error line naming the format and the text."""
    calls: list[TextToolCall] = []
    errors: list[str] = []
    for body in bodies:
        if not body.strip():
            continue
        try:
            calls.extend(parse(body))
        except _PARSE_FAILURES as exc:
            reason = "nested too deeply" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)
            errors.append(f"could not parse {label} ({snippet(reason, 160)}): {snippet(body)}")
    return calls, errors


# -- values ------------------------------------------------------------------------------------------
def load_object(text: str) -> Any:
    """JSON, else a Python literal (single-quoted dicts); raises ValueError/SyntaxError if hopeless."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, dict):
        raise CallError("arguments must be an object")
    return value


def _from_object(data: Any, names: Schemas | None = None) -> TextToolCall:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise CallError('expected {"name": "...", "arguments": {...}}')
    name = data["name"]
    args = data.get("arguments", data.get("parameters", data.get("args", {})))
    return TextToolCall(name, _arguments(args))


def _strip_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text[3:]
        if text.endswith("```"):
            text = text[:-3]
        first, _, rest = text.partition("\n")
        text = rest if first.strip().isalpha() or not first.strip() else text
    return text.strip()


# -- Hermes <tool_call> and Qwen3-Coder XML ----------------------------------------------------------
_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_NAME_THEN_JSON = re.compile(r"^([A-Za-z_][\w.-]*)\s*(\{.*\})$", re.S)
_FUNCTION = re.compile(r"<function=([^>\n]+)>(.*?)(?:</function>|$)", re.S)
_PARAMETER = re.compile(r"<parameter=([^>\n]+)>(.*?)(?:</parameter>|(?=<parameter=)|$)", re.S)


def _hermes_block(body: str, schemas: Schemas | None) -> list[TextToolCall]:
    body = body.strip()
    if body.startswith("<function="):
        return _qwen_xml(body, schemas)
    if body.startswith("```"):
        body = _strip_fence(body)
    if (match := _NAME_THEN_JSON.match(body)) and not body.startswith("{"):
        return [TextToolCall(match.group(1), _arguments(load_object(match.group(2))))]
    return [_from_object(load_object(body))]


def parse_hermes(content: str, schemas: Schemas | None) -> Parsed:
    bodies = [m.group(1) for m in _HERMES.finditer(content)]
    return _collect("<tool_call> block", bodies, lambda body: _hermes_block(body, schemas))


def _typed(value: str, schema: dict[str, Any] | None) -> Any:
    """A parameter's text as its schema type: XML values are all text, the tool wants numbers etc."""
    kind = (schema or {}).get("type")
    if kind in (None, "string") or isinstance(kind, list) and "string" in kind:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        if kind == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return value  # the tool's own validation says what is wrong


def _qwen_xml(text: str, schemas: Schemas | None) -> list[TextToolCall]:
    calls = []
    for function in _FUNCTION.finditer(text):
        if not function.group(0).endswith("</function>") and "<parameter=" not in function.group(2):
            continue  # "<function=NAME>" in prose; a call cut short still has its parameters
        name = function.group(1).strip()
        properties = ((schemas or {}).get(name) or {}).get("properties") or {}
        arguments: dict[str, Any] = {}
        for parameter in _PARAMETER.finditer(function.group(2)):
            key = parameter.group(1).strip()
            value = parameter.group(2).removeprefix("\n").removesuffix("\n")
            arguments[key] = _typed(value, properties.get(key))
        calls.append(TextToolCall(name, arguments))
    if not calls:
        raise CallError("expected <function=NAME><parameter=KEY>value</parameter></function>")
    return calls


def parse_qwen_xml(content: str, schemas: Schemas | None) -> Parsed:
    bodies = [m.group(0) for m in _FUNCTION.finditer(content)]
    return _collect("<function=…> call", bodies, lambda body: _qwen_xml(body, schemas))


# -- Mistral -----------------------------------------------------------------------------------------
_MISTRAL_NAMED = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(?:\[CALL_ID\]\s*[\w-]*\s*)?\[ARGS\]\s*", re.S)


def _mistral_segment(segment: str) -> list[TextToolCall]:
    decoder = json.JSONDecoder()
    stripped = segment.lstrip()
    if stripped.startswith("["):
        data, _ = decoder.raw_decode(stripped)
        if not isinstance(data, list):
            raise CallError("expected a JSON list of calls")
        return [_from_object(item) for item in data]
    if stripped.startswith("{"):
        data, _ = decoder.raw_decode(stripped)
        return [_from_object(data)]
    match = _MISTRAL_NAMED.match(segment)
    if not match:
        raise CallError("expected [TOOL_CALLS][{...}] or [TOOL_CALLS]name[ARGS]{...}")
    data, _ = decoder.raw_decode(segment, match.end())
    return [TextToolCall(match.group(1), _arguments(data))]


def parse_mistral(content: str, schemas: Schemas | None) -> Parsed:
    segments = content.split("[TOOL_CALLS]")[1:]
    return _collect("[TOOL_CALLS] call", segments, _mistral_segment)


# -- Python-call syntax (Gemma tool_code, Llama pythonic) --------------------------------------------
def _python_calls(text: str) -> list[TextToolCall]:
    tree = ast.parse(_strip_fence(text), mode="exec")
    nodes: list[ast.AST] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            raise CallError("expected only function calls")
        value = statement.value
        nodes.extend(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
    calls = []
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call":
            func = node.func.value  # Llama built-ins: brave_search.call(query=...)
        elif isinstance(node, ast.Call):
            func = node.func
        else:
            raise CallError("expected a function call like name(key=value)")
        if not isinstance(func, (ast.Name, ast.Attribute)):
            raise CallError("expected a function name")
        if node.args:
            raise CallError("pass arguments by name: name(key=value)")
        name = func.id if isinstance(func, ast.Name) else ast.unparse(func)
        calls.append(TextToolCall(name, {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}))
    if not calls:
        raise CallError("expected a function call like name(key=value)")
    return calls


_TOOL_CODE = re.compile(r"```(tool_code|tool_call|python)\s*\n(.*?)(?:```|$)", re.S)


def parse_gemma_fence(content: str, schemas: Schemas | None) -> Parsed:
    calls: list[TextToolCall] = []
    errors: list[str] = []
    for match in _TOOL_CODE.finditer(content):
        if match.group(1) == "python" and "tool_code" not in content:
            continue  # an ordinary code sample in an answer
        body = match.group(2)
        parse = _fenced_json if body.lstrip().startswith("{") else _python_calls
        found, failed = _collect(f"```{match.group(1)} block", [body], parse)
        calls += found
        errors += failed
    return calls, errors


def _fenced_json(body: str) -> list[TextToolCall]:
    return [_from_object(load_object(body.strip()))]


# -- Gemma call:name{...} ----------------------------------------------------------------------------
_GEMMA_CALL = re.compile(r"(?:<start_function_call>|<\|tool_call>)\s*(.*?)\s*(?:<end_function_call>|<tool_call\|>|$)",
                         re.S)
_GEMMA_STRING = re.compile(r"<escape>(.*?)<escape>|<\|\"\|>(.*?)<\|\"\|>", re.S)
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][\w.-]*)\s*:")


def _gemma_arguments(text: str) -> dict[str, Any]:
    try:
        return _arguments(json.loads(text))
    except json.JSONDecodeError:
        pass
    strings: list[str] = []

    def stash(match: re.Match[str]) -> str:
        strings.append(match.group(1) if match.group(1) is not None else match.group(2))
        return f"\x00{len(strings) - 1}\x00"

    text = _GEMMA_STRING.sub(stash, text)
    text = _BARE_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2)}":', text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: json.dumps(strings[int(m.group(1))]), text)
    return _arguments(json.loads(text))


def _gemma_call(body: str) -> list[TextToolCall]:
    match = re.match(r"call:([A-Za-z_][\w.-]*)\s*(\{.*\})\s*$", body.strip(), re.S)
    if not match:
        raise CallError("expected call:name{key:value,...}")
    return [TextToolCall(match.group(1), _gemma_arguments(match.group(2)))]


def parse_gemma_call(content: str, schemas: Schemas | None) -> Parsed:
    return _collect("call:name{…} call", [m.group(1) for m in _GEMMA_CALL.finditer(content)], _gemma_call)


# -- DeepSeek ----------------------------------------------------------------------------------------
_DEEPSEEK_CALL = re.compile(r"<｜tool▁call▁begin｜>(.*?)(?:<｜tool▁call▁end｜>|$)", re.S)
_DEEPSEEK_SEP = "<｜tool▁sep｜>"


def _deepseek_call(body: str) -> list[TextToolCall]:
    if _DEEPSEEK_SEP not in body:
        raise CallError("expected function<｜tool▁sep｜>name and JSON arguments")
    left, right = body.split(_DEEPSEEK_SEP, 1)
    if left.strip() in ("function", ""):  # V3: function<sep>name\n```json\n{...}\n```
        name, _, rest = right.partition("\n")
    else:  # V3.1: name<sep>{...}
        name, rest = left, right
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
        raise CallError("expected a tool name")
    rest = rest.replace("<｜tool▁calls▁end｜>", "")
    return [TextToolCall(name, _arguments(load_object(_strip_fence(rest))))]


def parse_deepseek(content: str, schemas: Schemas | None) -> Parsed:
    bodies = [m.group(1) for m in _DEEPSEEK_CALL.finditer(content)]
    return _collect("DeepSeek tool call", bodies, _deepseek_call)


# -- Llama <|python_tag|> and bare JSON --------------------------------------------------------------
def _json_objects(text: str) -> list[Any]:
    """Objects written one after another, separated by `;`, `,` or whitespace."""
    decoder = json.JSONDecoder()
    out, i, text = [], 0, text.strip()
    while i < len(text):
        data, i = decoder.raw_decode(text, i)
        out.append(data)
        while i < len(text) and text[i] in " \t\r\n;,":
            i += 1
    return out


def _python_tag(body: str) -> list[TextToolCall]:
    body = body.replace("<|eom_id|>", "").replace("<|eot_id|>", "").strip()
    if body.startswith("{"):
        return [_from_object(item) for item in _json_objects(body)]
    return _python_calls(body)


def parse_llama(content: str, schemas: Schemas | None) -> Parsed:
    return _collect("<|python_tag|> call", content.split("<|python_tag|>")[1:], _python_tag)


def parse_bare_json(content: str, schemas: Schemas | None) -> Parsed:
    """The whole reply is JSON naming a known tool; anything else is an ordinary answer."""
    text = _strip_fence(content)
    if not text.startswith(("{", "[")) or not schemas:
        return [], []
    try:
        items = _json_objects(text)
    except (ValueError, RecursionError):
        return [], []
    if len(items) == 1 and isinstance(items[0], list):
        items = items[0]
    if not items or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"] in schemas
        and ("arguments" in item or "parameters" in item) for item in items
    ):
        return [], []
    return _collect("JSON tool call", [json.dumps(item) for item in items],
                    lambda body: [_from_object(json.loads(body))])
