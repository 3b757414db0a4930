"""Data formats: the `yaml` and `toIon` filters, the `yaml()` and `fromIon()` functions.

YAML is written the way Kestra's Jackson writer is set up (no `---`, list items indented
by one space, quotes only where needed, long lines kept whole). Ion is Amazon's text
format, used by Kestra's internal storage files; this covers its data subset (null,
booleans, integers, decimals, floats, timestamps, strings, symbols, lists, structs,
annotations, comments), not blobs, clobs or s-expressions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import yaml as pyyaml

from streams.core.expressions import budget
from streams.core.expressions.dates import iso
from streams.core.expressions.errors import ExpressionError

# --- YAML ------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, datetime | date):
        value = iso(value)
    if isinstance(value, Decimal):
        value = float(value)
    text: str = pyyaml.safe_dump(value, allow_unicode=True, width=float("inf"))
    if text.endswith("\n...\n"):
        text = text[:-5]
    return text.rstrip("\n")


def _yaml_lines(value: Any, indent: str) -> list[str]:
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{indent}{_scalar(key)}:"
            if isinstance(item, Mapping | list | tuple) and item:
                lines.append(head)
                lines.extend(
                    _yaml_lines(item, indent + ("  " if isinstance(item, Mapping) else ""))
                )
            else:
                lines.append(f"{head} {_flow(item)}")
    else:
        for item in value:
            if (isinstance(item, Mapping) and item) or (isinstance(item, list | tuple) and item):
                inner = _yaml_lines(item, indent + "   ")
                lines.append(f"{indent} - {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{indent} - {_flow(item)}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _scalar(value)


def to_yaml(value: Any) -> str:
    """Kestra's `yaml` filter."""
    budget.check_serializable(value)
    if value is None:
        return "null"
    if isinstance(value, Mapping | list | tuple) and value:
        return "\n".join(_yaml_lines(value, "")) + "\n"
    return _flow(value) + "\n"


def from_yaml(yaml: Any) -> Any:
    """Kestra's `yaml()` function: YAML text to data."""
    if not isinstance(yaml, str):
        raise ExpressionError(
            "", "The 'yaml' function expects an argument 'yaml' with type string."
        )
    try:
        return pyyaml.safe_load(yaml)
    except pyyaml.YAMLError as exc:
        raise ExpressionError("", f"Invalid yaml: {exc}") from None


# --- Ion -------------------------------------------------------------------------------

_SYMBOL = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_RESERVED = frozenset({"null", "true", "false", "nan"})


def _ion_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    text = repr(value)  # like Java's Double.toString for the usual range
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{int(exponent)}"
    return text + "e0"


def _ion_symbol(name: str) -> str:
    if _SYMBOL.fullmatch(name) and name not in _RESERVED:
        return name
    return "'" + json.dumps(name, ensure_ascii=False)[1:-1].replace("'", "\\'") + "'"


def to_ion(value: Any) -> str:
    """Kestra's `toIon` filter (Ion text, structs with symbol field names)."""
    budget.check_serializable(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _ion_float(value)
    if isinstance(value, Decimal):
        return f"{value}d0" if "." not in str(value) and "E" not in str(value) else str(value)
    if isinstance(value, datetime | date):
        return iso(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_ion_symbol(str(k))}:{to_ion(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_ion(v) for v in value) + "]"
    raise ExpressionError("", f"Unable to transform to ion value of type {type(value).__name__}")


_ION_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
    |(?P<long>'''(?:[^'\\]|\\.|'(?!''))*''')
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<sym>'(?:[^'\\]|\\.)*')
    |(?P<ts>\d{4}(?:-\d{2}(?:-\d{2})?)?T(?:\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?
        |\d{4}-\d{2}-\d{2}(?![\d.eEdD]))
    |(?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|(?:\d[\d_]*)(?:\.\d*)?(?:[eEdD][+-]?\d+)?)|[+-]inf)
    |(?P<word>[A-Za-z_$][A-Za-z0-9_$.]*)
    |(?P<punct>::|[{}\[\](),:])
    """,
    re.VERBOSE | re.DOTALL,
)


class _IonReader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _ION_TOKEN.match(text, pos)
            if match is None:
                raise ExpressionError("", f"Invalid ion: unexpected {text[pos : pos + 10]!r}")
            pos = match.end()
            if match.lastgroup != "ws":
                self.tokens.append((match.lastgroup or "", match.group()))
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("", "Invalid ion: unexpected end of input")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        _, got = self.take()
        if got != text:
            raise ExpressionError("", f"Invalid ion: expected {text!r}, got {got!r}")

    def value(self) -> Any:
        kind, text = self.take()
        while (nxt := self.peek()) is not None and nxt[1] == "::":  # an annotation
            self.take()
            kind, text = self.take()
        if text == "{":
            return self._struct()
        if text == "[":
            return self._list()
        if kind == "str":
            return json.loads(text)
        if kind == "long":
            return text[3:-3].encode("latin-1", "backslashreplace").decode("unicode_escape")
        if kind == "sym":
            return _quoted_symbol(text)
        if kind == "ts":
            return text
        if kind == "num":
            return _ion_number(text)
        if kind == "word":
            if text in ("null", "true", "false") or text.startswith("null."):
                return None if text.startswith("null") else text == "true"
            if text == "nan":
                return math.nan
            return text  # a symbol value
        raise ExpressionError("", f"Invalid ion: unexpected {text!r}")

    def _struct(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            token = self.peek()
            if token is not None and token[1] == "}":
                self.take()
                return out
            kind, name = self.take()
            key = json.loads(name) if kind == "str" else self._symbol_text(kind, name)
            self.expect(":")
            out[key] = self.value()
            _, sep = self.take()
            if sep == "}":
                return out
            if sep != ",":
                raise ExpressionError("", f"Invalid ion: expected ',' or '}}', got {sep!r}")

    def _symbol_text(self, kind: str, name: str) -> str:
        if kind == "sym":
            return _quoted_symbol(name)
        if kind == "word":
            return name
        raise ExpressionError("", f"Invalid ion: bad field name {name!r}")

    def _list(self) -> list[Any]:
        out: list[Any] = []
        while True:
            token = self.peek()
            if token is not None and token[1] == "]":
                self.take()
                return out
            out.append(self.value())
            _, sep = self.take()
            if sep == "]":
                return out
            if sep != ",":
                raise ExpressionError("", f"Invalid ion: expected ',' or ']', got {sep!r}")


def _quoted_symbol(text: str) -> str:
    inner = text[1:-1].replace("\\'", "'").replace('"', '\\"')
    return str(json.loads('"' + inner + '"'))


def _ion_number(text: str) -> Any:
    clean = text.replace("_", "")
    if clean in ("+inf", "-inf"):
        return math.inf if clean[0] == "+" else -math.inf
    lowered = clean.lower()
    if lowered.lstrip("+-").startswith(("0x", "0b")):
        return int(clean, 0)
    if "e" in lowered:
        return float(lowered)
    if "d" in lowered or "." in lowered:
        return float(lowered.replace("d", "e"))  # a decimal, as Jackson gives a double
    return int(clean)


def from_ion(ion: Any = ...) -> Any:
    """Kestra's `fromIon()` function: one Ion value (text) to data; null gives null."""
    if ion is ...:
        raise ExpressionError("", "The 'fromIon' function expects an argument 'ion'.")
    if ion is None:
        return None
    if not isinstance(ion, str):
        raise ExpressionError(
            "", "The 'fromIon' function expects an argument 'ion' with type string."
        )
    reader = _IonReader(ion)
    value = reader.value()
    if reader.peek() is not None:
        raise ExpressionError("", f"Invalid ion: unexpected {reader.peek()!r} after the value")
    return value
