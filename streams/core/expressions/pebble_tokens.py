"""The tokens of a Pebble expression: string literals, numbers, names and operators, with
bracketed parts nested as groups, so rewrites never reach inside a string or across a
bracket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

# One token per match; `op` falls back to any single non-space character so the token
# texts always concatenate back to the source.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<num>\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>\?\?\?|\?\?|\.\.|==|!=|<=|>=|//|\*\*|\S)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


Kind = Literal["ws", "str", "num", "name", "op", "expr"]


@dataclass(frozen=True, slots=True)
class Tok:
    kind: Kind
    text: str


@dataclass(frozen=True, slots=True)
class Group:
    open: str
    close: str
    items: list[Item]


Item = Tok | Group


class Unparseable(Exception):
    """The block is not valid enough to translate; Jinja will report the real error."""


def tokens(source: str) -> list[Item]:
    stack: list[tuple[str, list[Item]]] = [("", [])]
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        text = m.group()
        if kind == "op":
            if text in ("'", '"'):
                raise Unparseable  # unterminated string literal
            if text in _OPENERS:
                stack.append((text, []))
                continue
            if text in _CLOSERS:
                opener, items = stack.pop() if len(stack) > 1 else ("", [])
                if _OPENERS.get(opener) != text:
                    raise Unparseable
                stack[-1][1].append(Group(opener, text, items))
                continue
        stack[-1][1].append(Tok(cast(Kind, kind), text))
    if len(stack) != 1:
        raise Unparseable
    return stack[0][1]
