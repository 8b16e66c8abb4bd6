"""Checking raw values against the schema: each problem is one line naming where the value came
from, the value, and what is allowed. `coerce` turns a valid raw value into its typed form.
"""

from __future__ import annotations

import copy
import math
from typing import Any
from urllib.parse import urlparse

from agent.settings.schema import LEGACY_BOOLS, Field
from agent.settings.sources import FALSY, TRUTHY, Entry, _NotBool, short


class Invalid(ValueError):
    """A value the schema does not allow; the message says what is allowed."""


def _number(raw: Any, kind: type) -> float | int:
    if isinstance(raw, bool):
        raise Invalid("")
    if isinstance(raw, int | float) and (kind is float or isinstance(raw, int)):
        value = kind(raw)
    elif isinstance(raw, str):
        try:
            value = kind(raw.strip())
        except ValueError:
            raise Invalid("") from None
    else:
        raise Invalid("")
    if not math.isfinite(value):  # nan passes every bound check; inf is no number of seconds or tokens
        raise Invalid("")
    return value


def _range(spec: Field) -> str:
    parts = []
    if spec.minimum is not None:
        parts.append(f">= {spec.minimum:g}")
    if spec.above is not None:
        parts.append(f"> {spec.above:g}")
    if spec.maximum is not None:
        parts.append(f"<= {spec.maximum:g}")
    return " and ".join(parts)


def allowed(spec: Field) -> str:
    """What the setting accepts, in words."""
    bound = _range(spec)
    text = {
        "int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string",
        "url": "an http(s) URL such as http://127.0.0.1:8000/v1", "list": "a list of names",
        "toolsets": "a list of toolset names (see hermes --list-toolsets)", "mapping": "a mapping",
        "enum": "one of " + ", ".join(spec.choices),
    }[spec.kind]
    return f"{text} {bound}" if bound else text


def coerce(spec: Field, raw: Any) -> Any:
    """The typed value, or Invalid. Strings from the environment are parsed; YAML types are checked."""
    if raw is None:
        if spec.kind in ("list", "toolsets", "mapping"):  # `allowlist:` with nothing after it: the default
            return copy.deepcopy(spec.default)
        if spec.nullable:
            return None
        raise Invalid("")
    kind = spec.kind
    if kind in ("int", "float"):
        value = _number(raw, int if kind == "int" else float)
        if ((spec.minimum is not None and value < spec.minimum) or (spec.above is not None and value <= spec.above)
                or (spec.maximum is not None and value > spec.maximum)):
            raise Invalid("")
        return value
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, str | int) else None
        if text in TRUTHY:
            return True
        if text in FALSY and text:
            return False
        raise Invalid("")
    if kind == "enum":
        if isinstance(raw, bool) and spec.key in LEGACY_BOOLS:
            return LEGACY_BOOLS[spec.key][raw]
        if isinstance(raw, bool) and ("off" if not raw else "on") in spec.choices:
            return "off" if not raw else "on"  # YAML 1.1 reads a bare `off` as false
        if isinstance(raw, _NotBool) or not isinstance(raw, str) or raw.strip().lower() not in spec.choices:
            raise Invalid("")
        return raw.strip().lower()
    if kind in ("str", "url"):
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise Invalid("")
        text = str(raw)
        if kind == "url":
            parsed = urlparse(text)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise Invalid("")
            return text.rstrip("/")
        return text
    if kind in ("list", "toolsets"):
        return _names(raw, allow_string=kind == "toolsets" or isinstance(raw, str))
    if kind == "mapping":
        if not isinstance(raw, dict):
            raise Invalid("")
        return raw
    raise AssertionError(kind)


def _names(raw: Any, allow_string: bool) -> list[str]:
    if isinstance(raw, str) and allow_string:
        # "a,b" or "a b"; a YAML list once bridged through a variable ("['A', 'B']") works too
        return raw.translate(str.maketrans(",[]'\"", "     ")).split()
    if not isinstance(raw, list | tuple) or not all(isinstance(item, str) for item in raw):
        raise Invalid("")
    return [item.strip() for item in raw if item.strip()]


def problem(entry: Entry, spec: Field, why: str | None = None) -> str:
    """The one line for an invalid entry."""
    return f"{entry.source}: {short(entry.raw)} is not valid for {spec.key}; expected {why or allowed(spec)}"
