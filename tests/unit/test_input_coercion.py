"""Typed inputs as Kestra's own flows write them: ENUM, `name`, bounds on durations and dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.inputs import InputDef, coerce_inputs


def _one(definition: dict[str, Any], raw: Any) -> tuple[Any, list[str]]:
    values, errors = coerce_inputs([InputDef.model_validate(definition)], {"x": raw})
    return values.get("x"), errors


def test_name_is_kestras_older_spelling_of_id() -> None:
    assert InputDef.model_validate({"name": "array", "type": "ARRAY"}).id == "array"


def test_enum_is_a_select() -> None:
    spec = {"id": "x", "type": "ENUM", "values": ["ENUM_VALUE", "OTHER_ONE"]}
    assert _one(spec, "OTHER_ONE") == ("OTHER_ONE", [])
    _, errors = _one(spec, "NOPE")
    assert errors and "input 'x'" in errors[0] and "not one of" in errors[0]
    with pytest.raises(ValueError, match="needs 'values'"):
        InputDef.model_validate({"id": "x", "type": "ENUM"})


def test_duration_bounds_are_durations() -> None:
    spec = {"id": "x", "type": "DURATION", "min": "PT10S", "max": "PT20S"}
    assert _one(spec, "PT15S") == ("PT15S", [])
    assert _one(spec, "PT10S") == ("PT10S", [])
    assert "below the minimum PT10S" in _one(spec, "PT5S")[1][0]
    assert "above the maximum PT20S" in _one(spec, "PT1M")[1][0]
    with pytest.raises(ValueError, match="greater than max"):
        InputDef.model_validate({"id": "x", "type": "DURATION", "min": "PT1M", "max": "PT1S"})
    with pytest.raises(ValueError, match="must be numbers"):
        InputDef.model_validate({"id": "x", "type": "INT", "min": "PT1S"})


def test_date_window_written_bare_in_yaml_is_inclusive() -> None:
    # YAML reads `after: 2023-01-01` as a date, not a string.
    spec = {"id": "x", "type": "DATE", "after": dt.date(2023, 1, 1), "before": "2023-12-31"}
    assert _one(spec, "2023-01-01") == ("2023-01-01", [])
    assert _one(spec, "2023-06-15") == ("2023-06-15", [])
    assert "not after 2023-01-01" in _one(spec, "2022-12-31")[1][0]
    assert "not before 2023-12-31" in _one(spec, "2024-01-01")[1][0]


def test_datetime_and_time_windows() -> None:
    when = {
        "id": "x",
        "type": "DATETIME",
        "after": "2023-01-01T00:00:00Z",
        "before": "2023-12-31T23:59:59Z",
    }
    assert _one(when, "2023-06-01T12:00:00Z")[1] == []
    assert "not before" in _one(when, "2024-06-01T12:00:00Z")[1][0]
    at = {"id": "x", "type": "TIME", "after": "01:00:00", "before": "11:59:59"}
    assert _one(at, "10:00:00") == ("10:00:00", [])
    assert "not after 01:00:00" in _one(at, "00:30:00")[1][0]


def test_a_utc_instant_is_written_as_kestra_writes_it() -> None:
    spec = {"id": "x", "type": "DATETIME"}
    assert _one(spec, "2019-10-06T18:27:49Z") == ("2019-10-06T18:27:49Z", [])
    assert _one(spec, "2019-10-06T20:27:49+02:00") == ("2019-10-06T20:27:49+02:00", [])


def test_a_uri_input_is_a_web_address_as_kestra_checks_it() -> None:
    spec = {"id": "x", "type": "URI"}
    assert _one(spec, "https://www.kestra.io/docs?x=1") == ("https://www.kestra.io/docs?x=1", [])
    assert "is not a URI" in _one(spec, "http:/bla")[1][0]  # InputsTest.inputFailed
