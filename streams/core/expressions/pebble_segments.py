"""A template split into text, `{{ }}` and `{% %}` parts, as Jinja would split it (comments
and raw/verbatim blocks stay text)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from streams.core.expressions.pebble_tokens import Unparseable

_BLOCK_START = re.compile(r"\{[{%#]")
_RAW_END = re.compile(r"\{%[-+]?\s*end(raw|verbatim)\s*[-+]?%\}")


@dataclass(frozen=True, slots=True)
class Segment:
    kind: Literal["text", "var", "block"]
    open: str
    body: str
    close: str


def _scan_block(text: str, start: int, close: str) -> int:
    """Index of the closing delimiter, skipping strings and bracketed parts (like Jinja)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise Unparseable
            i = j + 1
            continue
        if depth == 0 and text.startswith(close, i):
            return i
        if c in "([{":
            depth += 1
        elif c in ")]}" and depth > 0:
            depth -= 1
        i += 1
    raise Unparseable


def segments(text: str) -> list[Segment]:
    """Split a template into text, `{{ }}` and `{% %}` parts; comments and raw stay text."""
    out: list[Segment] = []
    pos = 0
    text_start = 0
    while (m := _BLOCK_START.search(text, pos)) is not None:
        start = m.start()
        kind = text[start + 1]
        if kind == "#":
            end = text.find("#}", start + 2)
            if end < 0:
                raise Unparseable
            pos = end + 2
            continue
        body_start = start + 2
        if text[body_start : body_start + 1] in ("-", "+"):
            body_start += 1
        close = "}}" if kind == "{" else "%}"
        end = _scan_block(text, body_start, close)
        body_end = end
        if body_end > body_start and text[body_end - 1] in "-+":
            body_end -= 1
        if start > text_start:
            out.append(Segment("text", "", text[text_start:start], ""))
        seg = Segment(
            "var" if kind == "{" else "block",
            text[start:body_start],
            text[body_start:body_end],
            text[body_end : end + 2],
        )
        pos = text_start = end + 2
        word = seg.body.strip()
        if seg.kind == "block" and word in ("raw", "verbatim"):
            raw_end = _RAW_END.search(text, pos)
            if raw_end is None:
                raise Unparseable
            # Keep the inside untouched; Pebble's verbatim is Jinja's raw.
            closing = raw_end.group(0).replace("endverbatim", "endraw")
            out.append(Segment("text", "", seg.open + " raw " + seg.close, ""))
            out.append(Segment("text", "", text[pos : raw_end.start()] + closing, ""))
            pos = text_start = raw_end.end()
            continue
        out.append(seg)
    if text_start < len(text):
        out.append(Segment("text", "", text[text_start:], ""))
    return out
