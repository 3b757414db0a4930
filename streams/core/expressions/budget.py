"""The render budget: what one render may compute, checked as it goes.

A flow author controls the templates, so a render must not be able to keep the executor
busy or eat its memory: `{{ ((10**999)**999)**999 }}`, `'a'|center(400000000)`
or nested `{% for %}` loops. The budget is deterministic, so history verification decides the same:

- steps: every loop iteration, call, filter, attribute lookup and intercepted operator
  costs one step (LANNER_LIMITS_RENDER_STEPS);
- bytes: no string, list or rendered output may pass LANNER_LIMITS_RENDER_BYTES; the
  operations that can amplify (`*`, `center`, `replace`, `join`, `indent`, format widths,
  serializing a container) are checked *before* they allocate;
- numbers: no integer past NUMBER_BITS bits (a bigger one cannot even be printed).

The executor's edge may also hand in a clock (`RenderLimits.clock`): it is read every
CLOCK_EVERY steps only, and a render that runs past LANNER_LIMITS_RENDER_SECONDS stops.
That backstop is not deterministic; the step budget is meant to trip first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from schemas.limits import Limits
from streams.core.expressions.errors import ExpressionError

# 65,536 bits is about 19,700 decimal digits: more than any flow needs, and multiplying two
# such numbers takes microseconds (a 3.3-million-bit power took 0.8 s on this machine).
NUMBER_BITS = 1 << 16
CLOCK_EVERY = 1024
# Producing text or collections costs steps too: one per this many characters or items.
BYTES_PER_STEP = 128
ITEMS_PER_STEP = 16
# Measuring a value before it is turned into text: a step per this many items visited.
VISITS_PER_STEP = 4
# Widths and precisions inside a format string: `%0999999d`, `{:>999999}`.
_FORMAT_WIDTH = re.compile(
    r"%[-#0 +*]*(\d+)|%[-#0 +]*\d*\.(\d+)|\{[^{}]*?[:.](?:.?[<>=^])?\D*(\d+)"
)


_SETTINGS = Limits()


@dataclass(frozen=True)
class RenderLimits:
    """How much one render may do; the defaults are schemas.settings.Limits'."""

    steps: int = _SETTINGS.render_steps
    bytes: int = _SETTINGS.render_bytes
    seconds: float = _SETTINGS.render_seconds
    # A monotonic clock in seconds, from the executor's edge; None in the pure core.
    clock: Callable[[], float] | None = None


class BudgetExceeded(ExpressionError):
    """A render passed one of its bounds; the message names the setting."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(expression, message)


def exceeded(setting: str, value: object, what: str) -> BudgetExceeded:
    return BudgetExceeded("", f"render budget exceeded: {setting}={value} ({what})")


class Budget:
    """The running account of one render, or of all the renders of one executor step: the
    walk shares one account between the renders of a decision, so that a ForEach of many
    near-budget templates cannot add up to minutes (steps and clock are shared; the size
    of what each render produces is counted per render)."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.steps_left = limits.steps
        self.output_left = limits.bytes
        self._started = limits.clock() if limits.clock is not None else 0.0

    def step(self, cost: int = 1) -> None:
        before = self.steps_left
        self.steps_left -= cost
        if self.steps_left < 0:
            raise exceeded("LANNER_LIMITS_RENDER_STEPS", self.limits.steps, "too many steps")
        clock = self.limits.clock
        crossed = before // CLOCK_EVERY != self.steps_left // CLOCK_EVERY
        if clock is not None and crossed and clock() - self._started > self.limits.seconds:
            raise exceeded("LANNER_LIMITS_RENDER_SECONDS", self.limits.seconds, "too slow")

    def size(self, length: int, what: str) -> None:
        if length > self.limits.bytes:
            raise exceeded("LANNER_LIMITS_RENDER_BYTES", self.limits.bytes, what)

    def output(self, length: int) -> None:
        """Account for rendered text as it is produced (all strings of one render)."""
        self.output_left -= length
        self.step(1 + length // BYTES_PER_STEP)
        if self.output_left < 0:
            raise exceeded("LANNER_LIMITS_RENDER_BYTES", self.limits.bytes, "rendered output")

    def number(self, bits: int) -> None:
        if bits > NUMBER_BITS:
            raise BudgetExceeded(
                "", f"render budget exceeded: a number larger than {NUMBER_BITS} bits"
            )

    def deep_size(self, value: Any) -> int:
        """About how many bytes `value` takes as text, counted until past the limit (visited
        items cost steps, so shared references cannot make this slow)."""
        total = 0
        pending: list[Any] = [value]
        limit = self.limits.bytes
        visits = 0
        while pending:
            item = pending.pop()
            visits += 1
            if visits == VISITS_PER_STEP:
                visits = 0
                self.step()
            kind = type(item)
            if kind is str:
                total += len(item) + 2
            elif kind is list or kind is tuple:
                total += 2 + len(item)
                pending.extend(item)
            elif kind is int or kind is float or kind is bool or item is None:
                total += 8 if kind is not int else 1 + self._digits(item)
            elif isinstance(item, str | bytes):
                total += len(item) + 2
            elif isinstance(item, Mapping):
                total += 2 + len(item)
                for key, inner in item.items():
                    pending.append(key)
                    pending.append(inner)
            elif isinstance(item, list | tuple | set | frozenset):
                total += 2 + len(item)
                pending.extend(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                self.number(item.bit_length())
                total += 1 + item.bit_length() // 3
            else:
                total += 8
            if total > limit:
                self.size(total, "a value too large to turn into text")
        return total

    def _digits(self, number: int) -> int:
        bits = number.bit_length()
        self.number(bits)
        return bits // 3


_CURRENT: ContextVar[Budget | None] = ContextVar("lanner_render_budget", default=None)


def current() -> Budget | None:
    return _CURRENT.get()


def start(limits: RenderLimits, account: Budget | None = None) -> Any:
    """Make `account` (or a fresh budget) the current one; returns the token for `finish`."""
    if account is None:
        account = Budget(limits)
    else:
        account.output_left = account.limits.bytes
    return _CURRENT.set(account)


def finish(token: Any) -> None:
    _CURRENT.reset(token)


def step(cost: int = 1) -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.step(cost)


def check_result(value: Any) -> Any:
    """After an operation: a string or collection it made must fit the byte limit, and
    making it costs steps by its size, so that many allocations cannot add up unseen."""
    budget = _CURRENT.get()
    if budget is None:
        return value
    if isinstance(value, str | bytes):
        budget.size(len(value), f"a text of {len(value)} characters")
        budget.step(len(value) // BYTES_PER_STEP)
    elif isinstance(value, list | tuple | dict):
        budget.size(len(value), f"a {type(value).__name__} of {len(value)} items")
        budget.step(len(value) // ITEMS_PER_STEP)
    return value


def check_serializable(value: Any) -> None:
    """Before a container is turned into text (JSON, str()): it must fit."""
    budget = _CURRENT.get()
    if budget is not None and isinstance(value, Mapping | list | tuple | set | frozenset):
        budget.deep_size(value)


def counted(items: Iterable[Any]) -> Iterator[Any]:
    """A loop's items, one step each."""
    budget = _CURRENT.get()
    for item in items:
        if budget is not None:
            budget.step()
        yield item


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def check_repeat(left: Any, right: Any) -> None:
    """`*`: text or list repetition, or a product of integers."""
    budget = _CURRENT.get()
    if budget is None:
        return
    if isinstance(left, int) and isinstance(right, int):
        budget.number(abs(left).bit_length() + abs(right).bit_length())
        return
    size, times = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(times, int) and isinstance(size, str | bytes | list | tuple):
        budget.size(_length(size) * max(times, 0), "repetition")


def check_power(left: Any, right: Any) -> None:
    budget = _CURRENT.get()
    if budget is None or not isinstance(left, int) or not isinstance(right, int):
        return
    if right > 0 and abs(left) > 1:
        budget.number(abs(left).bit_length() * right)


def check_add(left: Any, right: Any) -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.size(_length(left) + _length(right), "concatenation")


def check_format(template: Any, arguments: Any) -> None:
    """`'%5d' % x`, `format` and `str.format`: widths are amplifiers, arguments may be big."""
    budget = _CURRENT.get()
    if budget is None or not isinstance(template, str):
        return
    for match in _FORMAT_WIDTH.finditer(template):
        width = next((int(g) for g in match.groups() if g), 0)
        budget.size(width, "format width")
    check_serializable(arguments)


def check_width(width: Any, text: Any, lines: int = 1) -> None:
    """Padding (`center`, `ljust`, `indent`...): the result is about width x lines."""
    budget = _CURRENT.get()
    if budget is not None and isinstance(width, int):
        budget.size(max(width, 0) * max(lines, 1) + _length(text), "padding")


def check_replace(text: Any, old: Any, new: Any, count: int = -1) -> None:
    budget = _CURRENT.get()
    if budget is None or not isinstance(text, str) or not isinstance(new, str):
        return
    hits = text.count(old) if isinstance(old, str) else 0
    if count >= 0:
        hits = min(hits, count)
    budget.size(len(text) + hits * len(new), "replace")


def check_join(items: Any, separator: Any) -> None:
    budget = _CURRENT.get()
    if budget is None or not isinstance(items, list | tuple):
        return
    budget.deep_size(list(items))
    budget.size(len(items) * _length(separator), "join")
