"""Typed flow inputs: their definitions, and how a caller's raw values are coerced.

Coercion is pure and returns every problem at once, each naming the input, so an
execution with wrong inputs is refused before it is created.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"


class InputType(StrEnum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    BOOL = "BOOL"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    JSON = "JSON"
    ARRAY = "ARRAY"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    SECRET = "SECRET"
    URI = "URI"
    EMAIL = "EMAIL"
    YAML = "YAML"
    FILE = "FILE"
    # Kestra's older name for SELECT, still in its test flows and in users' files.
    ENUM = "ENUM"


_NUMERIC = {InputType.INT, InputType.FLOAT}
_CHOICES = {InputType.SELECT, InputType.MULTISELECT, InputType.ENUM}
_TEXTUAL = {InputType.STRING, InputType.SECRET, InputType.EMAIL, InputType.URI}


class InputDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(pattern=ID_PATTERN)
    type: InputType
    description: str | None = None
    displayName: str | None = None
    required: bool = True
    defaults: Any = None
    values: list[str] | None = None
    allowCustomValue: bool = False
    # Numbers for INT and FLOAT, ISO-8601 durations (PT10S) for DURATION.
    min: float | str | None = None
    max: float | str | None = None
    minLength: int | None = None
    maxLength: int | None = None
    validator: str | None = None
    itemType: InputType | None = None
    after: str | None = None
    before: str | None = None
    dependsOn: Any = None

    @model_validator(mode="before")
    @classmethod
    def _kestra_spellings(cls, data: Any) -> Any:
        """Kestra's deprecated `name` for `id`; YAML's dates for after/before written bare."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "name" in data and "id" not in data:
            data["id"] = data.pop("name")
        for bound in ("after", "before"):
            if isinstance(data.get(bound), (dt.date, dt.time)):
                data[bound] = data[bound].isoformat()
        return data

    @model_validator(mode="after")
    def _fields_fit_type(self) -> InputDef:
        problems: list[str] = []
        if self.type in _CHOICES and not self.values:
            problems.append(f"input '{self.id}' of type {self.type} needs 'values'")
        problems.extend(self._bound_problems())
        if self.validator is not None:
            if self.type not in _TEXTUAL:
                problems.append(f"input '{self.id}': validator only applies to text inputs")
            try:
                re.compile(self.validator)
            except re.error as exc:
                problems.append(f"input '{self.id}': validator is not a valid regex ({exc})")
        if self.itemType is not None and self.type != InputType.ARRAY:
            problems.append(f"input '{self.id}': itemType only applies to ARRAY")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _bound_problems(self) -> list[str]:
        if self.min is None and self.max is None:
            return []
        if self.type not in _NUMERIC and self.type != InputType.DURATION:
            return [f"input '{self.id}': min/max only apply to INT, FLOAT and DURATION"]
        try:
            low, high = self.bound(self.min), self.bound(self.max)
        except ValueError as exc:
            return [f"input '{self.id}': {exc}"]
        if low is not None and high is not None and low > high:
            return [f"input '{self.id}': min {self.min} is greater than max {self.max}"]
        return []

    def bound(self, value: float | str | None) -> float | None:
        """A min/max as a number: seconds for a DURATION."""
        if value is None:
            return None
        if self.type == InputType.DURATION:
            return parse_duration(str(value)).total_seconds()
        if isinstance(value, str):
            raise ValueError(f"min/max of a {self.type} input must be numbers (got {value!r})")
        return value


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
# A URI input is what Kestra accepts (FlowInputOutput.URI_PATTERN): scheme://host.tld...
_WEB_URI = re.compile(
    r"^[a-z]+://(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,6}\b"
    r"(?:[-a-zA-Z0-9()@:%_+.~#?&/=]*)$"
)


def parse_duration(text: str) -> dt.timedelta:
    """ISO-8601 durations as Kestra writes them (PT5S, PT1H30M, P1D)."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as PT30S or P1DT2H")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return dt.timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _coerce_one(definition: InputDef, kind: InputType, raw: Any) -> Any:
    if kind == InputType.STRING or kind == InputType.SECRET:
        if isinstance(raw, (dict, list)):
            raise ValueError("expected a string")
        return str(raw)
    if kind == InputType.INT:
        if isinstance(raw, bool):
            raise ValueError("expected an integer")
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError("expected an integer")
        try:
            return int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not an integer") from None
    if kind == InputType.FLOAT:
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{raw!r} is not a number") from None
    if kind in (InputType.BOOLEAN, InputType.BOOL):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise ValueError(f"{raw!r} is not a boolean (true or false)")
    if kind == InputType.DATETIME:
        value = (
            raw
            if isinstance(raw, dt.datetime)
            else dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        )
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        text = value.isoformat()
        # An instant in UTC as Kestra prints it: `...Z`, not `+00:00`.
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if kind == InputType.DATE:
        return (raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))).isoformat()
    if kind == InputType.TIME:
        return (raw if isinstance(raw, dt.time) else dt.time.fromisoformat(str(raw))).isoformat()
    if kind == InputType.DURATION:
        parse_duration(str(raw))
        return str(raw).strip().upper()
    if kind == InputType.JSON:
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg} at char {exc.pos})") from None
        return raw
    if kind == InputType.YAML:
        if isinstance(raw, str):
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ValueError(f"not valid YAML ({exc})") from None
        return raw
    if kind == InputType.ARRAY:
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise ValueError("expected an array")
        item_kind = definition.itemType or InputType.STRING
        return [_coerce_one(definition, item_kind, item) for item in items]
    if kind in (InputType.SELECT, InputType.ENUM):
        text = str(raw)
        if definition.values and text not in definition.values and not definition.allowCustomValue:
            raise ValueError(f"{text!r} is not one of {definition.values}")
        return text
    if kind == InputType.MULTISELECT:
        items = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else raw
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list):
            raise ValueError("expected a list of values")
        bad = [i for i in items if definition.values and str(i) not in definition.values]
        if bad and not definition.allowCustomValue:
            raise ValueError(f"{bad} not among {definition.values}")
        return [str(i) for i in items]
    if kind == InputType.EMAIL:
        if not _EMAIL.match(str(raw)):
            raise ValueError(f"{raw!r} is not an email address")
        return str(raw)
    if kind == InputType.URI:
        if not _WEB_URI.match(str(raw)):
            raise ValueError(f"{raw!r} is not a URI")
        return str(raw)
    if kind == InputType.FILE:
        text = str(raw)
        if not _URI.match(text):
            raise ValueError("expected a file URI (kestra:// or lanner://)")
        return text
    raise ValueError(f"unsupported input type {kind}")


def _check_constraints(definition: InputDef, value: Any) -> None:
    low, high = definition.bound(definition.min), definition.bound(definition.max)
    measured = (
        parse_duration(value).total_seconds() if definition.type == InputType.DURATION else value
    )
    if low is not None and measured < low:
        raise ValueError(f"{value} is below the minimum {definition.min}")
    if high is not None and measured > high:
        raise ValueError(f"{value} is above the maximum {definition.max}")
    _check_time_window(definition, value)
    if isinstance(value, str):
        if definition.minLength is not None and len(value) < definition.minLength:
            raise ValueError(f"shorter than {definition.minLength} characters")
        if definition.maxLength is not None and len(value) > definition.maxLength:
            raise ValueError(f"longer than {definition.maxLength} characters")
        if definition.validator is not None and not re.fullmatch(definition.validator, value):
            raise ValueError(f"does not match the pattern {definition.validator!r}")


_TEMPORAL: dict[InputType, Any] = {
    InputType.DATE: dt.date.fromisoformat,
    InputType.TIME: dt.time.fromisoformat,
    InputType.DATETIME: lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00")),
}


def _check_time_window(definition: InputDef, value: Any) -> None:
    """`after`/`before` on DATE, TIME and DATETIME inputs (bounds allowed, as in Kestra)."""
    parse = _TEMPORAL.get(definition.type)
    if parse is None or not isinstance(value, str):
        return
    moment = parse(value)
    if definition.after is not None and moment < _aware(parse(definition.after), moment):
        raise ValueError(f"{value} is not after {definition.after}")
    if definition.before is not None and moment > _aware(parse(definition.before), moment):
        raise ValueError(f"{value} is not before {definition.before}")


def _aware(bound: Any, like: Any) -> Any:
    if isinstance(like, dt.datetime) and isinstance(bound, dt.datetime) and bound.tzinfo is None:
        return bound.replace(tzinfo=dt.UTC)
    return bound


def coerce_inputs(
    definitions: list[InputDef], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Returns (values, errors); every error names its input."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    known = {d.id for d in definitions}
    for name in raw:
        if name not in known:
            errors.append(f"input '{name}': the flow declares no such input")
    for definition in definitions:
        given = raw.get(definition.id)
        if given is None or given == "":
            given = definition.defaults
        if given is None:
            if definition.required:
                errors.append(f"input '{definition.id}': required ({definition.type}) but missing")
            else:
                values[definition.id] = None
            continue
        try:
            value = _coerce_one(definition, definition.type, given)
            _check_constraints(definition, value)
        except (ValueError, TypeError) as exc:
            errors.append(f"input '{definition.id}' ({definition.type}): {exc}")
            continue
        values[definition.id] = value
    return values, errors
