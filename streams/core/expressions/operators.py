"""Pebble's arithmetic (io.pebbletemplates.pebble.utils.OperatorUtils) where Java and Python differ.

- `7 / 2` is 3: two integers divide to an integer, truncated toward zero (Java's `/`);
- `-7 % 3` is -1: the remainder takes the dividend's sign (Java's `%`, also on floats);
- `'a' + 1` is "a1": `+` with a text on either side concatenates (String.valueOf);
- `[1] + 2` is [1, 2]: `+` on a list adds the other operand (or its items);
- `[1, 2] - 2` is [1]: `-` on a list removes the other operand (or its items).

Everything else (two numbers, `'%5d' % x`, list + list...) keeps Jinja's meaning.
`pebble_binop` returns the operands to hand to Jinja's operator, or a finished result.
"""

from __future__ import annotations

import math
from typing import Any

from streams.core.expressions.values import to_text

_INT = int


def _is_int(value: Any) -> bool:
    return isinstance(value, _INT) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _java_text(value: Any) -> str:
    # String.valueOf: null prints as "null" in Pebble's `+` (unlike `~`, which prints "").
    return "null" if value is None else to_text(value)


class Done:
    """A result computed here (Jinja's operator is not called)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def pebble_binop(operator: str, left: Any, right: Any) -> tuple[Any, Any] | Done:
    if operator == "/" and _is_int(left) and _is_int(right):
        if right == 0:
            raise ZeroDivisionError("division by zero")
        quotient = abs(left) // abs(right)
        return Done(quotient if (left >= 0) == (right >= 0) else -quotient)
    if operator == "%" and _is_number(left) and _is_number(right):
        if _is_int(left) and _is_int(right):
            if right == 0:
                raise ZeroDivisionError("modulo by zero")
            rest = abs(left) % abs(right)
            return Done(rest if left >= 0 else -rest)
        return Done(math.fmod(left, right))
    if operator == "+":
        if isinstance(left, str) != isinstance(right, str):
            return _java_text(left), _java_text(right)
        if isinstance(left, list) and not isinstance(right, list | tuple):
            return left, [right]
    if operator == "-" and isinstance(left, list):
        if isinstance(right, list | tuple):
            return Done([item for item in left if item not in right])
        kept = list(left)
        if right in kept:
            kept.remove(right)  # List.remove(Object): the first occurrence only
        return Done(kept)
    return left, right
