"""Text filters as Kestra and Pebble define them: abbreviate, title, escapeChar, indent,
nindent, urlencode, urldecode, numberFormat, nl2br, className, and null-safe lower/upper/trim.

URL coding follows java.net.URLEncoder/URLDecoder (form encoding: a space is `+`), written
out here because the core imports no I/O modules (urllib included).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from streams.core.expressions import budget
from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.values import to_text

_URL_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def abbreviate(value: Any, length: int) -> Any:
    """Pebble: text of `length` characters or more is cut to `length - 3` plus "..."."""
    if value is None:
        return None
    text = to_text(value)
    if length < 0:
        raise ExpressionError(
            "", "Invalid argument to abbreviate filter; must be greater than zero"
        )
    if len(text) < length or len(text) <= 3:
        return text
    if length <= 3:
        return text[:length]
    return text[: length - 3] + "..."


def title(value: Any) -> Any:
    """Pebble: the first letter of each whitespace-separated word in capitals (the rest
    is left as is, unlike Jinja's `title`)."""
    if value is None:
        return None
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), to_text(value))


def lower(value: Any) -> Any:
    return None if value is None else to_text(value).lower()


def upper(value: Any) -> Any:
    return None if value is None else to_text(value).upper()


def trim(value: Any, chars: str | None = None) -> Any:
    return None if value is None else to_text(value).strip(chars)


def _escape_text(text: str, kind: str) -> str:
    if kind == "single":
        return text.replace("'", "\\'")
    if kind == "double":
        return text.replace('"', '\\"')
    return text.replace("'", "'\\''")  # shell


def escape_char(value: Any, type: str | None = None) -> Any:
    """Kestra's escapeChar('single'|'double'|'shell'), through maps and lists."""
    kind = (type or "").lower()
    if kind not in ("single", "double", "shell"):
        raise ExpressionError(
            "",
            "The 'escapeChar' filter expects the value of 'type' to be either 'single', "
            "'double', or 'shell'.",
        )

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return _escape_text(to_text(item) if item is not None else "null", kind)

    return None if value is None else walk(value)


def _line_separator(text: str) -> str:
    for separator in ("\r\n", "\n\r", "\n", "\r"):
        if separator in text:
            return separator
    return "\n"  # Kestra: the system's separator; Lanner's servers are Unix


def _indent(value: Any, amount: int, prefix: str, first_too: bool) -> Any:
    if value is None:
        return None
    text = to_text(value)
    if not text:
        return text
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ExpressionError("", "indent expects a positive integer >=0 as argument 'amount'.")
    newline = _line_separator(text)
    budget.check_width(amount * len(prefix), text, text.count(newline) + 2)
    if first_too:
        text = newline + text
    return text.replace(newline, newline + prefix * amount)


def indent(value: Any, amount: int = 4, prefix: str = " ") -> Any:
    """Kestra: every line but the first gets `amount` times `prefix`."""
    return _indent(value, amount, prefix, first_too=False)


def nindent(value: Any, amount: int = 4, prefix: str = " ") -> Any:
    """Kestra: a new line first, then every line indented."""
    return _indent(value, amount, prefix, first_too=True)


def urlencode(value: Any) -> Any:
    """java.net.URLEncoder (UTF-8): letters, digits and `.-*_` kept, space as `+`."""
    if value is None:
        return None
    if isinstance(value, dict):
        return "&".join(f"{urlencode(k)}={urlencode(v)}" for k, v in value.items())
    out: list[str] = []
    for byte in to_text(value).encode("utf-8"):
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def urldecode(value: Any) -> Any:
    """java.net.URLDecoder (UTF-8): `+` is a space, `%XX` a byte."""
    if value is None:
        return None
    text = to_text(value)
    raw = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "+":
            raw.append(0x20)
        elif c == "%":
            try:
                raw.append(int(text[i + 1 : i + 3], 16))
            except ValueError:
                raise ExpressionError("", f"urldecode: bad escape at {i} in {text!r}") from None
            i += 2
        else:
            raw.extend(c.encode("utf-8"))
        i += 1
    return raw.decode("utf-8", errors="replace")


def nl2br(value: Any) -> Any:
    return None if value is None else to_text(value).replace("\n", "<br />")


def class_name(value: Any) -> Any:
    """The Java class Kestra would hold this value as (Lanner's values are Python's)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, Decimal):
        return "java.math.BigDecimal"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, dict):
        return "java.util.LinkedHashMap"
    if isinstance(value, list | tuple):
        return "java.util.ArrayList"
    return type(value).__name__


# --- numberFormat: java.text.DecimalFormat patterns --------------------------------------

_PATTERN = re.compile(r"^(?P<prefix>[^#0,.]*)(?P<number>[#0,]*(?:\.[#0]*)?)(?P<suffix>.*)$")


def number_format(value: Any, format: str | None = None) -> Any:
    """Pebble's numberformat (Kestra names it numberFormat): a DecimalFormat pattern such
    as `#,##0.00`, `0.###`, `#%` (rounding half-even, English symbols)."""
    if value is None:
        return None
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ExpressionError("", f"numberFormat: {value!r} is not a number") from None
    pattern = (format or "#,##0.###").split(";")[0]
    match = _PATTERN.match(pattern)
    if match is None or not match.group("number"):
        raise ExpressionError("", f"numberFormat: unsupported pattern {format!r}")
    prefix, body, suffix = match.group("prefix", "number", "suffix")
    if "%" in prefix + suffix:
        number *= 100
    elif "\u2030" in prefix + suffix:
        number *= 1000
    integer, _, fraction = body.partition(".")
    min_fraction = fraction.count("0")
    max_fraction = len(fraction)
    min_integer = integer.replace(",", "").count("0")
    group = len(integer) - integer.rfind(",") - 1 if "," in integer else 0
    rounded = number.quantize(Decimal(1).scaleb(-max_fraction), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    digits = f"{abs(rounded):f}"
    whole, _, decimals = digits.partition(".")
    decimals = decimals.rstrip("0")
    decimals = decimals + "0" * max(0, min_fraction - len(decimals))
    whole = whole.lstrip("0").rjust(min_integer, "0")
    if group > 0 and whole:
        parts: list[str] = []
        while len(whole) > group:
            parts.insert(0, whole[-group:])
            whole = whole[:-group]
        parts.insert(0, whole)
        whole = ",".join(parts)
    if not whole and not decimals:
        whole = "0"
    text = whole + ("." + decimals if decimals else "")
    return sign + prefix.replace("'", "") + text + suffix.replace("'", "")
