"""Translate the Pebble constructs Kestra flows use into Jinja, block by block.

Only the inside of `{{ }}` and `{% %}` is touched, and only through a tokenizer that knows
string literals and bracket nesting, so `'a ? b'`, `{'k': v}` and `x[1:2]` survive as written.
Text that uses no Pebble construct comes back byte-for-byte identical, which keeps plain
Jinja templates (and Jinja's own error positions) unaffected.

Rewrites (Pebble precedence in brackets, from Pebble's CoreExtension and Kestra's Extension):
- `c ? a : b` (lowest, right-associative) -> `((a) if (c) else (b))`
- `a ?? b` (120, tighter than `|` and `~`) -> `((a) if (a) is _present else (b))`
- `a ??? b` (120, undefined-only coalescing) -> `((a) if (a) is defined else (b))`
- `a..b` (120, inclusive range) -> `range(a, b)` (the engine's `range` is Pebble-inclusive)
- `x contains y` (20, between `and` and `==`) -> `((y) in (x))`
- `null` -> `none`, `equals` -> `==`, `{% elseif %}` -> `{% elif %}`,
  `{% verbatim %}...{% endverbatim %}` -> `{% raw %}...{% endraw %}`
"""

from __future__ import annotations

import re

from streams.core.expressions.pebble_segments import segments
from streams.core.expressions.pebble_tokens import Group, Item, Tok, Unparseable, tokens

_COALESCE = frozenset({"??", "???"})
# Names that end an operand of `contains` (operators looser than Pebble's precedence 20).
_BOUNDARY_NAMES = frozenset({"and", "or", "not", "if", "else", "contains"})
# Keywords never form part of an operand chain like `a.b[0]`.
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "contains", "equals"})
_PEBBLE_HINT = re.compile(r"\?|\.\.|\b(?:null|equals|contains|elseif)\b")


def translate(text: str) -> str:
    """The template with every Pebble construct rewritten to Jinja."""
    try:
        parts = segments(text)
    except Unparseable:
        return text
    out: list[str] = []
    for seg in parts:
        if seg.kind == "text":
            out.append(seg.body)
        elif seg.kind == "var":
            out.append(seg.open + translate_expression(seg.body) + seg.close)
        else:
            out.append(seg.open + _statement(seg.body) + seg.close)
    return "".join(out)


def whole_expression(text: str) -> str | None:
    """The translated expression if `text` is exactly one `{{ ... }}`, else None."""
    if not (text.startswith("{{") and text.endswith("}}")):
        return None
    try:
        parts = segments(text)
    except Unparseable:
        return None
    if len(parts) != 1 or parts[0].kind != "var":
        return None
    return translate_expression(parts[0].body)


# --- expression level -----------------------------------------------------------------


def translate_expression(source: str) -> str:
    """Translate the inside of a `{{ }}` block."""
    if _PEBBLE_HINT.search(source) is None:
        return source
    try:
        return _region(tokens(source), "")
    except Unparseable:
        return source


def _emit(items: list[Item]) -> str:
    out: list[str] = []
    for it in items:
        if isinstance(it, Tok):
            out.append(it.text)
        else:
            out.append(it.open + _region(it.items, it.open) + it.close)
    return "".join(out)


def _is_op(it: Item | None, *texts: str) -> bool:
    return isinstance(it, Tok) and it.kind == "op" and it.text in texts


def _is_name(it: Item | None, *texts: str) -> bool:
    return isinstance(it, Tok) and it.kind == "name" and it.text in texts


def _region(items: list[Item], bracket: str) -> str:
    """Translate a bracket's content: comma-separated parts, and `:`-separated ones for
    dict literals and slices. A `:` belongs to a ternary only when a `?` is still open."""
    out: list[str] = []
    piece: list[Item] = []
    pending = 0
    for it in items:
        if _is_op(it, "?"):
            pending += 1
        elif _is_op(it, ":"):
            if pending:
                pending -= 1
            else:
                out.append(_piece(piece, bracket) + ":")
                piece = []
                continue
        elif _is_op(it, ","):
            out.append(_piece(piece, bracket) + ",")
            piece, pending = [], 0
            continue
        piece.append(it)
    out.append(_piece(piece, bracket))
    return "".join(out)


def _piece(items: list[Item], bracket: str) -> str:
    # A keyword argument `name=value` inside a call: only the value is an expression.
    if bracket == "(":
        sig = [i for i, it in enumerate(items) if not _is_ws(it)]
        if len(sig) >= 2 and _is_kind(items[sig[0]], "name") and _is_op(items[sig[1]], "="):
            cut = sig[1] + 1
            return _emit(items[:cut]) + _expr(items[cut:])
    return _expr(items)


def _is_kind(it: Item | None, kind: str) -> bool:
    return isinstance(it, Tok) and it.kind == kind


def _is_ws(it: Item | None) -> bool:
    return isinstance(it, Tok) and it.kind == "ws"


def _strip(items: list[Item]) -> tuple[str, list[Item], str]:
    lo, hi = 0, len(items)
    while lo < hi and _is_ws(items[lo]):
        lo += 1
    while hi > lo and _is_ws(items[hi - 1]):
        hi -= 1
    return _emit(items[:lo]), items[lo:hi], _emit(items[hi:])


def _expr(items: list[Item]) -> str:
    lead, core, trail = _strip(items)
    if not core:
        return _emit(items)
    q = next((i for i, it in enumerate(core) if _is_op(it, "?")), None)
    if q is not None:
        depth = 0
        for j in range(q + 1, len(core)):
            if _is_op(core[j], "?"):
                depth += 1
            elif _is_op(core[j], ":"):
                if depth == 0:
                    cond = _expr(core[:q]).strip()
                    then = _expr(core[q + 1 : j]).strip()
                    other = _expr(core[j + 1 :]).strip()
                    return f"{lead}(({then}) if ({cond}) else ({other})){trail}"
                depth -= 1
        raise Unparseable  # `?` without its `:`
    core = _rename(core)
    core = _tight(core)
    core = _contains(core)
    return lead + _emit(core) + trail


def _prev_significant(items: list[Item], i: int) -> Item | None:
    for j in range(i - 1, -1, -1):
        it = items[j]
        if not _is_ws(it):
            return it
    return None


def _rename(core: list[Item]) -> list[Item]:
    out: list[Item] = []
    for i, it in enumerate(core):
        if _is_name(it, "null", "equals") and not _is_op(_prev_significant(core, i), "."):
            it = Tok("op", "==") if _is_name(it, "equals") else Tok("name", "none")
        out.append(it)
    return out


def _chainable(it: Item) -> bool:
    """Part of a postfix chain such as `outputs.t[taskrun.value].x` or `f(1)`."""
    if isinstance(it, Group):
        return True
    if it.kind in ("num", "str", "expr"):
        return True
    if it.kind == "name":
        return it.text not in _KEYWORDS
    return it.kind == "op" and it.text == "."


def _chain_before(core: list[Item], end: int) -> int:
    """Start of the operand that ends right before index `end` (whitespace skipped)."""
    i = end
    while i > 0 and _is_ws(core[i - 1]):
        i -= 1
    stop = i
    while i > 0 and _chainable(core[i - 1]):
        i -= 1
    if i == stop:
        raise Unparseable
    return i


def _chain_after(core: list[Item], start: int) -> tuple[int, int]:
    """(start, end) of the operand that begins after index `start`, allowing a unary sign."""
    i = start
    while i < len(core) and _is_ws(core[i]):
        i += 1
    first = i
    if i < len(core) and _is_op(core[i], "-", "+"):
        i += 1
    body = i
    while i < len(core) and _chainable(core[i]):
        i += 1
    if i == body:
        raise Unparseable
    return first, i


def _tight(core: list[Item]) -> list[Item]:
    """Rewrite `??`, `???` and `..`, which bind tighter than filters and `~` in Pebble."""
    while True:
        k = next((i for i, it in enumerate(core) if _is_op(it, "??", "???", "..")), None)
        if k is None:
            return core
        start = _chain_before(core, k)
        left = _emit(core[start:k]).strip()
        op = core[k]
        assert isinstance(op, Tok)
        if op.text == "..":
            r0, r1 = _chain_after(core, k + 1)
            text = f"range({left}, {_emit(core[r0:r1])})"
            core = [*core[:start], Tok("expr", text), *core[r1:]]
            continue
        operands, ops, pos = [left], [], k
        while True:
            r0, r1 = _chain_after(core, pos + 1)
            operands.append(_emit(core[r0:r1]))
            sym = core[pos]
            assert isinstance(sym, Tok)
            ops.append(sym.text)
            nxt = r1
            while nxt < len(core) and _is_ws(core[nxt]):
                nxt += 1
            if nxt < len(core) and _is_op(core[nxt], *_COALESCE):
                pos = nxt
                continue
            break
        # Folded from the right so each operand appears twice at most (no blow-up on chains).
        text = operands[-1]
        for operand, symbol in zip(reversed(operands[:-1]), reversed(ops), strict=True):
            test = "_present" if symbol == "??" else "defined"
            text = f"(({operand}) if ({operand}) is {test} else ({text}))"
        core = [*core[:start], Tok("expr", text), *core[r1:]]


def _contains(core: list[Item]) -> list[Item]:
    """Rewrite Pebble's `haystack contains needle` to Jinja's `needle in haystack`."""
    while True:
        k = next(
            (
                i
                for i, it in enumerate(core)
                if _is_name(it, "contains") and not _is_op(_prev_significant(core, i), ".")
            ),
            None,
        )
        if k is None:
            return core
        lo = k
        while lo > 0 and not _is_name(core[lo - 1], *_BOUNDARY_NAMES):
            lo -= 1
        hi = k + 1
        while hi < len(core) and not _is_name(core[hi], *_BOUNDARY_NAMES):
            hi += 1
        lead, left, _ = _strip(core[lo:k])
        _, right, trail = _strip(core[k + 1 : hi])
        if not left or not right:
            raise Unparseable
        text = f"{lead}(({_emit(right)}) in ({_emit(left)})){trail}"
        core = [*core[:lo], Tok("expr", text), *core[hi:]]


# --- statement level ------------------------------------------------------------------


def _statement(body: str) -> str:
    if _PEBBLE_HINT.search(body) is None:
        return body
    try:
        items = tokens(body)
    except Unparseable:
        return body
    lead, core, trail = _strip(items)
    if not core or not isinstance(core[0], Tok) or core[0].kind != "name":
        return body
    keyword = core[0].text
    try:
        if keyword in ("if", "elif", "elseif"):
            head = "elif" if keyword == "elseif" else keyword
            return lead + head + _expr(core[1:]) + trail
        if keyword == "for":
            k = next(i for i, it in enumerate(core) if _is_name(it, "in"))
            rest = core[k + 1 :]
            cond = next((i for i, it in enumerate(rest) if _is_name(it, "if")), None)
            if cond is None:
                return lead + _emit(core[: k + 1]) + _expr(rest) + trail
            loop = _expr(rest[:cond]) + "if" + _expr(rest[cond + 1 :])
            return lead + _emit(core[: k + 1]) + loop + trail
        if keyword == "set":
            eq = next((i for i, it in enumerate(core) if _is_op(it, "=")), None)
            if eq is not None:
                return lead + _emit(core[: eq + 1]) + _expr(core[eq + 1 :]) + trail
    except (Unparseable, StopIteration):
        return body
    return body
