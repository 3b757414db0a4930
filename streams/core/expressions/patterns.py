"""Regular expressions from flow authors, bounded in time.

A backtracking pattern (`(a+)+$` against thirty `a`s and a `!`) takes minutes in
Python's `re` and cannot be interrupted: on the executor it would stall every execution
of its partition, on the scheduler every Flow trigger. The `regex` engine takes a
timeout and stops itself. Its timer is the one clock a render without a clock reads; it
only changes the outcome of a match that would have taken longer than that, which then
fails with the setting that bounds it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex

from streams.core.expressions import budget
from streams.core.expressions.errors import ExpressionError

# Without a render budget's own seconds (a Flow trigger's filter, a validation).
DEFAULT_SECONDS = 1.0


class PatternError(ExpressionError):
    """The pattern does not compile, or matching took longer than allowed."""

    def __init__(self, message: str) -> None:
        super().__init__("", message)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    try:
        return regex.compile(pattern, regex.VERSION0)
    except regex.error as exc:
        raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from exc


def check(pattern: str) -> None:
    """Raises PatternError when the pattern does not compile (deploy-time validation)."""
    _compiled(pattern)


def _seconds() -> float:
    current = budget.current()
    return current.limits.seconds if current is not None else DEFAULT_SECONDS


def substitute(pattern: str, replacement: str, text: str, count: int = 0) -> str:
    """`re.sub`, bounded in time (count 0: every match)."""
    seconds = _seconds()
    try:
        result: str = _compiled(pattern).sub(replacement, text, count=count, timeout=seconds)
    except TimeoutError as exc:
        raise budget.exceeded(
            "LANNER_LIMITS_RENDER_SECONDS", seconds, f"the regular expression {pattern!r}"
        ) from exc
    except regex.error as exc:  # a bad group reference in the replacement
        raise PatternError(f"replacement {replacement!r} for {pattern!r}: {exc}") from exc
    return result


def matches_whole(pattern: str, text: str, seconds: float = DEFAULT_SECONDS) -> bool:
    """Java's String.matches (the whole text), bounded in time."""
    try:
        return _compiled(pattern).fullmatch(text, timeout=seconds) is not None
    except TimeoutError as exc:
        raise PatternError(
            f"matching {pattern!r} took longer than {seconds:g} s (a backtracking pattern?)"
        ) from exc


def split(pattern: str, text: str, maxsplit: int = 0) -> list[str]:
    """Java's String.split pieces, bounded in time: groups are not returned, a zero-width
    match at the start makes no empty first piece, at most `maxsplit` cuts (0: all).
    Trailing empty pieces are the caller's to drop."""
    seconds = _seconds()
    pieces: list[str] = []
    start = 0
    try:
        for match in _compiled(pattern).finditer(text, timeout=seconds):
            if maxsplit and len(pieces) >= maxsplit:
                break
            if match.end() == 0:
                continue
            pieces.append(text[start : match.start()])
            start = match.end()
    except TimeoutError as exc:
        raise budget.exceeded(
            "LANNER_LIMITS_RENDER_SECONDS", seconds, f"the regular expression {pattern!r}"
        ) from exc
    pieces.append(text[start:])
    return pieces


def java_replacement(replacement: str) -> str:
    """A java.util.regex replacement (`$1`, `${name}`, `\\$` for a dollar) in Python's
    syntax (`\\g<1>`), for Kestra's `replace(..., regexp=true)`."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif c == "$" and replacement[i + 1 : i + 2] == "{":
            end = replacement.index("}", i)
            out.append(f"\\g<{replacement[i + 2 : end]}>")
            i = end + 1
        elif c == "$" and replacement[i + 1 : i + 2].isdigit():
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            out.append(f"\\g<{replacement[i + 1 : j]}>")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)
