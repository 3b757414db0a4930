"""Row files (streams/plugins/rows.py): JSON lines, or Kestra's Ion, as every task reads them."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import math
import uuid
from pathlib import Path

import pytest

from streams.plugins.rows import RowFormatError, RowWriter, dumps, plain, read_lines, read_rows


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows"
    path.write_text(text, encoding="utf-8")
    return path


def test_json_lines_are_read_with_their_numbers_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"a": 1}\n\n{"a": [true, null]}\r\n"text"\n')
    assert list(read_rows(path)) == [(1, {"a": 1}), (3, {"a": [True, None]}), (4, "text")]


def test_ion_as_kestra_writes_it_becomes_plain_values(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{id:"a",n:1,price:12.50,ratio:2.5e0,at:2024-05-01T10:00:00Z,ok:true,tag:sym,'
        "missing:null.string,blob:{{aGk=}},items:[1,2d0]}\n",
    )
    [(number, row)] = list(read_rows(path))
    assert number == 1
    assert row == {
        "id": "a",
        "n": 1,
        "price": 12.5,
        "ratio": 2.5,
        "at": "2024-05-01T10:00:00+00:00",
        "ok": True,
        "tag": "sym",
        "missing": None,
        "blob": "aGk=",
        "items": [1, 2],
    }
    assert type(row["ok"]) is bool and type(row["n"]) is int


def test_a_bad_json_line_is_named_by_its_number(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"a": 1}\n{"a": 2\n')
    rows = read_rows(path)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(RowFormatError, match=r"line 2 is not JSON .*'\{\"a\": 2'"):
        next(rows)


def test_a_bad_ion_line_is_named_by_its_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "{a:1}\n{a:\n")
    with pytest.raises(RowFormatError, match=r"line 2 is not Ion"):
        list(read_rows(path))


def test_a_json_line_is_one_compact_line() -> None:
    assert dumps({"é": [1, None]}) == '{"é":[1,null]}'
    out = io.StringIO()
    writer = RowWriter(out)
    writer.write({"é": [1, None]})
    writer.write(dt.date(2024, 5, 1))
    assert out.getvalue() == '{"é":[1,null]}\n"2024-05-01"\n'
    assert writer.count == 2


def test_each_line_is_json_else_ion_and_says_which(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"a": 1.0}\n{a:1.0,b:hello}\n  [1, "x"]  \n{f:nan}\n')
    lines = list(read_lines(path))
    assert [(line.number, line.value, line.is_json) for line in lines[:3]] == [
        (1, {"a": 1.0}, True),
        (2, {"a": 1.0, "b": "hello"}, False),
        (3, [1, "x"], True),
    ]
    assert lines[2].text == '  [1, "x"]  '
    # Ion's NaN stays a float, as JSON reading gives NaN.
    assert math.isnan(lines[3].value["f"])


def test_a_bad_line_in_an_ion_file_is_not_ion_and_in_a_json_file_not_json(tmp_path: Path) -> None:
    ion = _write(tmp_path, '{a:1}\n{"a": 1}\n1 2\n')
    with pytest.raises(RowFormatError, match=r"line 3 is not Ion \(it holds 2 values, .*'1 2'"):
        list(read_rows(ion))
    first = _write(tmp_path, '{"a": \n')
    with pytest.raises(RowFormatError, match=r"line 1 is not JSON \(Expecting value at column 7\)"):
        list(read_rows(first))


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows"
    path.write_bytes(b'{"a": "\xe9"}\n')
    with pytest.raises(RowFormatError, match="the file is not UTF-8 text"):
        list(read_rows(path))


def test_plain_makes_values_json_can_hold() -> None:
    assert plain(decimal.Decimal("12")) == 12 and type(plain(decimal.Decimal("12"))) is int
    assert plain(decimal.Decimal("12.0")) == 12.0 and type(plain(decimal.Decimal("12.0"))) is float
    assert plain(float("nan")) == "nan"
    assert plain(dt.timedelta(hours=1, minutes=30)) == "PT1H30M"
    assert plain({1: (b"hi", uuid.UUID(int=0))}) == {
        "1": ["aGk=", "00000000-0000-0000-0000-000000000000"]
    }
