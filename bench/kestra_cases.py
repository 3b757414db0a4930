"""Kestra's test flows as conformance cases: what each Java test asserts, and the check.

A case (one line of bench/kestra_cases.jsonl) names a flow file of Kestra's
`core/src/test/resources/flows/valids`, the Java test whose assertions it was derived
from, the inputs that test gives, what it does while the execution runs (`steps`), and
what it asserts at the end: the state, the number of task runs, states and attempts of
named tasks, literal outputs. `checks` are the test's other assertions in words, shown
with a miss; `skip` says why a case cannot run here (a test-only Java task type).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Step(BaseModel):
    """Something the Java test does to the execution once it reaches `when`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when: str
    do: str  # resume | restart | kill
    inputs: dict[str, Any] = Field(default_factory=dict)


class Case(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    flow: str
    test: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    state: str | None = None
    task_runs: int | None = None
    tasks: dict[str, str] = Field(default_factory=dict)
    attempts: dict[str, int] = Field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    checks: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    kv: dict[str, Any] = Field(default_factory=dict)  # "namespace/key" -> value, set first
    secrets: dict[str, str] = Field(default_factory=dict)  # "namespace/name" -> value
    labels: dict[str, str] = Field(default_factory=dict)  # given at creation
    # The flow file whose execution (with `inputs`) starts this case's flow: a subflow's
    # parent, or the upstream of a Flow trigger. The case's flow is then found by id.
    via: str | None = None
    # Another execution of the same flow is started first and kept running meanwhile
    # (Kestra's concurrency-limit tests): this case's execution meets the limit.
    alongside: bool = False
    # The input the Java test expects the creation to be refused for (none: it is created).
    refused: str | None = None
    # The typed values the Java test reads back from the created execution's inputs.
    typed_inputs: dict[str, Any] | None = None
    skip: str | None = None
    # Where Lanner deliberately differs from Kestra: why (README's Kestra table says so).
    differs: str | None = None

    @property
    def asserts_something(self) -> bool:
        return bool(
            self.state
            or self.task_runs is not None
            or self.tasks
            or self.attempts
            or self.outputs
            or self.refused
            or self.typed_inputs is not None
        )

    @property
    def name(self) -> str:
        return f"{self.flow} ({self.test})"


def load_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                cases.append(Case.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    return cases


@dataclass
class Verdict:
    case: Case
    misses: list[str] = field(default_factory=list)
    error: str | None = None  # could not run (invalid flow, refused inputs, timeout)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.misses


def _same(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _same(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    # Kestra's tests compare rendered text where Lanner may keep a number, and the reverse.
    if isinstance(expected, str) != isinstance(actual, str):
        as_text = actual if isinstance(actual, str) else json.dumps(actual, separators=(",", ":"))
        return str(expected) == as_text or str(expected) == str(actual)
    return False


def _runs_of(execution: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """Task runs of `taskId` or `taskId[value]`, in the order the API lists them."""
    task_id, _, value = key.partition("[")
    runs = [r for r in execution.get("taskRunList", []) if r.get("taskId") == task_id]
    if value:
        runs = [r for r in runs if str(r.get("value")) == value.rstrip("]")]
    return runs


def compare(case: Case, execution: Mapping[str, Any]) -> list[str]:
    """What differs from the Java test's assertions (empty: Kestra's result)."""
    misses: list[str] = []
    state = execution.get("state", {}).get("current")
    if case.state is not None and state != case.state:
        error = execution.get("error")
        misses.append(f"state {state} (Kestra: {case.state})" + (f": {error}" if error else ""))
    runs = execution.get("taskRunList", [])
    if case.task_runs is not None and len(runs) != case.task_runs:
        ids = ", ".join(
            f"{r['taskId']}" + (f"[{r['value']}]" if r.get("value") else "") for r in runs
        )
        misses.append(f"{len(runs)} task runs (Kestra: {case.task_runs}): {ids}")
    for key, wanted in case.tasks.items():
        found = _runs_of(execution, key)
        got = found[-1]["state"]["current"] if found else "no task run"
        if got != wanted:
            misses.append(f"task {key}: {got} (Kestra: {wanted})")
    for key, count in case.attempts.items():
        found = _runs_of(execution, key)
        got_count = len(found[-1].get("attempts") or []) if found else 0
        if got_count != count:
            misses.append(f"task {key}: {got_count} attempts (Kestra: {count})")
    misses.extend(_output_misses(case, execution))
    given = execution.get("inputs") or {}
    for name, value in (case.typed_inputs or {}).items():
        if name not in given:
            misses.append(f"input {name} missing (Kestra: {value!r})")
        elif not _same(value, given[name]):
            misses.append(f"input {name} = {given[name]!r} (Kestra: {value!r})")
    return misses


def _output_misses(case: Case, execution: Mapping[str, Any]) -> Iterable[str]:
    for key, wanted in case.outputs.items():
        if key == "$flow":
            actual = execution.get("outputs") or {}
        else:
            found = _runs_of(execution, key)
            actual = (found[-1].get("outputs") or {}) if found else {}
        for name, value in wanted.items():
            if name not in actual:
                yield f"output {key}.{name} missing (Kestra: {value!r})"
            elif not _same(value, actual[name]):
                yield f"output {key}.{name} = {actual[name]!r} (Kestra: {value!r})"
