"""Row files as the Kafka and Elasticsearch tasks read them: JSON lines or Kestra's Ion."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.plugins.row_files import RowFileError, json_line, read_rows


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
    with pytest.raises(RowFileError, match=r"line 2 is not JSON .*'\{\"a\": 2'"):
        next(rows)


def test_a_bad_ion_line_is_named_by_its_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "{a:1}\n{a:\n")
    with pytest.raises(RowFileError, match=r"line 2 is not Ion"):
        list(read_rows(path))


def test_json_line_is_one_compact_line() -> None:
    assert json_line({"é": [1, None]}) == '{"é":[1,null]}\n'
