"""Dates for the `date`, `dateAdd` and `timestamp*` filters, with Java-style patterns.

Kestra flows write `date("yyyy-MM-dd'T'HH:mm:ss")` (java.time.format.DateTimeFormatter);
Python users write strftime. A pattern containing `%` is strftime, anything else is Java.
Names are English and fixed so output never depends on the process locale.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core.expressions.errors import ExpressionError

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def iso(value: datetime | date) -> str:
    """ISO-8601 text, with `Z` for UTC like Java's Instant (what Kestra prints)."""
    text = value.isoformat()
    if isinstance(value, datetime) and text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def to_datetime(
    value: object, existing_format: str | None = None, default_zone: tzinfo = UTC
) -> datetime:
    """An aware datetime from a datetime, a date, epoch seconds or text. As in Kestra, a
    value without a zone is read in `default_zone` (the filter's timeZone, else UTC) and a
    bare date is that day's start."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).astimezone(default_zone)
    elif isinstance(value, str):
        try:
            if existing_format:
                named = _PARSERS.get(existing_format.lower())
                dt = (
                    named(value)
                    if named
                    else datetime.strptime(value, _to_strptime(existing_format))
                )
            else:
                dt = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ExpressionError("", f"cannot read {value!r} as a date: {exc}") from None
    else:
        raise ExpressionError("", f"expected a date, got {type(value).__name__}")
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=default_zone)


def zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError("", f"unknown time zone {name!r}") from None


def format_date(
    value: object,
    fmt: str | None = None,
    existing_format: str | None = None,
    time_zone: str | None = None,
) -> str:
    """Kestra's date filter: the value in `time_zone` (UTC without one, Kestra's server
    zone), in a Java pattern, a named format (`iso` by default) or strftime."""
    tz = zone(time_zone) if time_zone else UTC
    dt = to_datetime(value, existing_format, tz).astimezone(tz)
    return format_in(dt, fmt or "iso")


def format_in(dt: datetime, fmt: str) -> str:
    named = _NAMED.get(fmt.lower())
    if named is not None:
        return named(dt)
    if "%" in fmt:
        return dt.strftime(fmt)
    return "".join(part if isinstance(part, str) else _field(dt, *part) for part in _parse(fmt))


# --- dateAdd / timestamps -------------------------------------------------------------

_UNIT_SECONDS = {
    "NANOS": 1e-9, "MICROS": 1e-6, "MILLIS": 1e-3, "SECONDS": 1, "MINUTES": 60,
    "HOURS": 3600, "HALF_DAYS": 43200,
}  # fmt: skip
_UNIT_DAYS = {"DAYS": 1, "WEEKS": 7}
_UNIT_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def date_add(value: object, amount: int, unit: str) -> datetime:
    dt = to_datetime(value)
    key = unit.upper()
    if not key.endswith("S") and key + "S" in (_UNIT_SECONDS | _UNIT_DAYS | _UNIT_MONTHS):
        key += "S"  # accept `DAY` as well as `DAYS`
    if key in _UNIT_SECONDS:
        # Java adds time-based units on the instant line, so cross DST in UTC.
        moved = dt.astimezone(UTC) + timedelta(seconds=amount * _UNIT_SECONDS[key])
        return moved.astimezone(dt.tzinfo)
    if key in _UNIT_DAYS:
        return dt + timedelta(days=amount * _UNIT_DAYS[key])
    if key in _UNIT_MONTHS:
        months = dt.year * 12 + dt.month - 1 + amount * _UNIT_MONTHS[key]
        year, month = divmod(months, 12)
        if not 1 <= year <= 9999:
            raise ExpressionError("", f"date out of range after adding {amount} {unit}")
        day = min(dt.day, calendar.monthrange(year, month + 1)[1])
        return dt.replace(year=year, month=month + 1, day=day)
    raise ExpressionError("", f"unknown time unit {unit!r} (use e.g. SECONDS, HOURS, DAYS, MONTHS)")


def timestamp(
    value: object,
    per_second: int,
    time_zone: str | None = None,
    existing_format: str | None = None,
) -> int:
    dt = to_datetime(value, existing_format, zone(time_zone) if time_zone else UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * per_second // 1_000_000


# --- Java patterns --------------------------------------------------------------------

_Part = str | tuple[str, int]


def _parse(pattern: str) -> list[_Part]:
    """Split a Java pattern into literal text and (letter, count) fields."""
    parts: list[_Part] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if pattern.startswith("''", i):
                parts.append("'")
                i += 2
                continue
            j, text = i + 1, []
            while True:
                if j >= n:
                    raise ExpressionError("", f"unterminated quote in date pattern {pattern!r}")
                if pattern[j] == "'":
                    if pattern.startswith("''", j):
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            parts.append("".join(text))
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            parts.append((c, j - i))
            i = j
        elif c in "[]":
            i += 1  # optional sections: every field is available, so always print them
        else:
            parts.append(c)
            i += 1
    return parts


def _offset(dt: datetime, colon: bool, z_for_zero: bool, short: bool = False) -> str:
    off = dt.utcoffset() or timedelta(0)
    seconds = int(off.total_seconds())
    if seconds == 0 and z_for_zero:
        return "Z"
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    minutes = rest // 60
    if short and minutes == 0:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _field(dt: datetime, letter: str, count: int) -> str:
    if letter in "yu":
        return f"{dt.year % 100:02d}" if count == 2 else f"{dt.year:0{count}d}"
    if letter in "ML":
        if count == 3:
            return _MONTHS[dt.month - 1][:3]
        if count == 4:
            return _MONTHS[dt.month - 1]
        if count == 5:
            return _MONTHS[dt.month - 1][0]
        return f"{dt.month:0{count}d}"
    if letter in "Ee":
        if letter == "e" and count <= 2:
            return f"{dt.isoweekday():0{count}d}"
        name = _DAYS[dt.weekday()]
        return name if count == 4 else name[0] if count == 5 else name[:3]
    simple = _SIMPLE.get(letter)
    if simple is not None:
        return f"{simple(dt):0{count}d}"
    if letter == "S":
        return (f"{dt.microsecond:06d}" + "0" * max(0, count - 6))[:count]
    if letter == "n":
        return f"{dt.microsecond * 1000:0{count}d}"
    if letter == "a":
        return "AM" if dt.hour < 12 else "PM"
    if letter == "G":
        return "AD"
    if letter in "Qq":
        quarter = (dt.month - 1) // 3 + 1
        return f"Q{quarter}" if count == 3 else f"{quarter:0{count}d}"
    if letter == "X":
        return _offset(dt, colon=count in (3, 5), z_for_zero=True, short=count == 1)
    if letter == "x":
        return _offset(dt, colon=count in (3, 5), z_for_zero=False, short=count == 1)
    if letter == "Z":
        if count == 4:
            return "GMT" if not dt.utcoffset() else "GMT" + _offset(dt, True, False)
        return _offset(dt, colon=count == 5, z_for_zero=count == 5)
    if letter == "z":
        return dt.tzname() or _offset(dt, True, True)
    if letter == "V":
        return str(getattr(dt.tzinfo, "key", None) or _offset(dt, True, True))
    raise ExpressionError("", f"unsupported letter {letter!r} in date pattern")


_SIMPLE: dict[str, Callable[[datetime], int]] = {
    "d": lambda dt: dt.day,
    "D": lambda dt: dt.timetuple().tm_yday,
    "H": lambda dt: dt.hour,
    "k": lambda dt: dt.hour or 24,
    "K": lambda dt: dt.hour % 12,
    "h": lambda dt: dt.hour % 12 or 12,
    "m": lambda dt: dt.minute,
    "s": lambda dt: dt.second,
    "w": lambda dt: dt.isocalendar().week,
    "Y": lambda dt: dt.isocalendar().year,
}

# strptime equivalents for the usual parse patterns (`existingFormat`).
_STRPTIME = {
    ("y", 4): "%Y", ("u", 4): "%Y", ("y", 2): "%y", ("M", 2): "%m", ("M", 1): "%m",
    ("M", 3): "%b", ("M", 4): "%B", ("d", 2): "%d", ("d", 1): "%d", ("H", 2): "%H",
    ("H", 1): "%H", ("h", 2): "%I", ("h", 1): "%I", ("m", 2): "%M", ("m", 1): "%M",
    ("s", 2): "%S", ("s", 1): "%S", ("a", 1): "%p", ("E", 3): "%a", ("E", 4): "%A",
    ("D", 3): "%j", ("X", 1): "%z", ("X", 2): "%z", ("X", 3): "%z", ("Z", 1): "%z",
    ("x", 3): "%z", ("S", 3): "%f", ("S", 6): "%f",
}  # fmt: skip


def _to_strptime(pattern: str) -> str:
    if "%" in pattern:
        return pattern
    out: list[str] = []
    for part in _parse(pattern):
        if isinstance(part, str):
            out.append(part.replace("%", "%%"))
        elif part in _STRPTIME:
            out.append(_STRPTIME[part])
        else:
            field = part[0] * part[1]
            raise ExpressionError("", f"cannot parse dates with pattern field {field!r}")
    return "".join(out)


def _rfc1123(dt: datetime) -> str:
    zone_text = "GMT" if not dt.utcoffset() else _offset(dt, False, False)
    day, month = _DAYS[dt.weekday()][:3], _MONTHS[dt.month - 1][:3]
    return f"{day}, {dt.day} {month} {dt:%Y %H:%M:%S} {zone_text}"


def _java(pattern: str) -> Callable[[datetime], str]:
    parts = _parse(pattern)
    return lambda dt: "".join(p if isinstance(p, str) else _field(dt, *p) for p in parts)


# Kestra's named formats (DateTimeFormatter constants and its short aliases).
_NAMED: dict[str, Callable[[datetime], str]] = {
    "iso": _java("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
    "iso_date_time": iso,
    "iso_offset_date_time": iso,
    "iso_zoned_date_time": iso,
    "iso_instant": lambda dt: iso(dt.astimezone(UTC)),
    "iso_local_date_time": lambda dt: dt.replace(tzinfo=None).isoformat(),
    "iso_date": lambda dt: dt.date().isoformat(),
    "iso_local_date": lambda dt: dt.date().isoformat(),
    "iso_time": lambda dt: dt.time().isoformat(),
    "iso_local_time": lambda dt: dt.time().isoformat(),
    "iso_sec": _java("yyyy-MM-dd'T'HH:mm:ssXXX"),
    "iso_milli": _java("yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
    "sql": _java("yyyy-MM-dd HH:mm:ss.SSSSSS"),
    "sql_sec": _java("yyyy-MM-dd HH:mm:ss"),
    "sql_seq": _java("yyyy-MM-dd HH:mm:ss"),  # Kestra's spelling
    "sql_seconds": _java("yyyy-MM-dd HH:mm:ss"),
    "sql_milli": _java("yyyy-MM-dd HH:mm:ss.SSS"),
    "basic_iso_date": _java("yyyyMMdd"),
    "rfc_1123_date_time": _rfc1123,
}


def _rfc1123_parse(text: str) -> datetime:
    return datetime.strptime(text.replace("GMT", "+0000"), "%a, %d %b %Y %H:%M:%S %z")


_PARSERS: dict[str, Callable[[str], datetime]] = {
    "rfc_1123_date_time": _rfc1123_parse,
    "iso": datetime.fromisoformat,
    "iso_date_time": datetime.fromisoformat,
    "iso_offset_date_time": datetime.fromisoformat,
    "iso_zoned_date_time": datetime.fromisoformat,
    "iso_instant": datetime.fromisoformat,
    "iso_local_date_time": datetime.fromisoformat,
    "iso_date": datetime.fromisoformat,
    "iso_local_date": datetime.fromisoformat,
}
