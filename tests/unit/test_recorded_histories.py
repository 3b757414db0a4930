"""Recorded histories as fixtures, as Temporal's replayer tests keep workflow histories.

Every tests/data/histories/NAME.jsonl is the log of real executions on a real broker
(flows in NAME.yml, recorded by tests/harness/record_histories.py), in the format
`lanner log export` writes. The code of `lanner replay verify --file` replays each one
with today's decisions and must reproduce every recorded event exactly; a failure names
the fixture, the execution, the first event that differs and the task run whose decision
changed. The last tests prove the check bites: an edited copy of a fixture, and a changed
decision, are reported by name.

Re-recording (after a deliberate change of behaviour only) is one command:
`.venv/bin/python -m tests.harness.record_histories [NAME ...]`. A divergence nobody
can explain is a changed decision, which in production would make a running execution
take another path after an upgrade: find its cause, never re-record to silence it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from schemas.commands import ExecutorMessage
from schemas.decode import decode_execution_event, decode_flow_event
from schemas.events import ExecutionEvent, TaskRunSucceeded
from schemas.execution import Execution
from streams.core.decide import decide as original
from streams.core.evolve import fold
from streams.core.validation import ValidatedFlow
from streams.histories.export_file import verify_export
from streams.plugins.registry import PluginRegistry
from tests.harness.record_histories import HISTORIES, SCENARIOS, flow_sources

FIXTURES = sorted(HISTORIES.glob("*.jsonl"))
RERECORD = (
    "\nIf this change of behaviour is deliberate, re-record: "
    ".venv/bin/python -m tests.harness.record_histories {name}\n"
    "If it is not, the change altered a decision: do not re-record to silence it."
)

# What the recordings must show between them: every core flowable, and the history of
# every operator action and failure path.
FLOWABLES = {
    "AllowFailure",
    "Dag",
    "EachParallel",
    "EachSequential",
    "ForEach",
    "ForEachItem",
    "If",
    "Parallel",
    "Pause",
    "Sequential",
    "Subflow",
    "Switch",
    "WaitFor",
    "WorkingDirectory",
}
EVENTS = {
    "ExecutionKilled",
    "ExecutionPaused",
    "ExecutionReplayed",
    "ExecutionRestarted",
    "ExecutionResumed",
    "ExecutionWarned",
    "TaskRunRetrying",
    "TaskRunRunning",
}


# What each recording shows: every execution's flow and end state (sorted), and the
# events that make it the scenario it is named after, so a recording made when something
# went wrong (a kill that came too late, a retry that never ran) is not taken as the truth.
OUTCOMES: dict[str, tuple[str, set[str]]] = {
    "allow_failure": ("allow_failure=WARNING", {"TaskRunFailed", "TaskRunWarned"}),
    "dag": ("dag=SUCCESS", set()),
    "each_sequential_parallel": ("each_sequential_parallel=SUCCESS", set()),
    "errors_finally": ("errors_finally=FAILED", {"TaskRunFailed"}),
    "executor_crash": ("executor_crash=SUCCESS", {"TaskRunRunning"}),
    "fail_allow_warning": ("fail_allow_warning=WARNING", {"ExecutionWarned"}),
    "flow_retry": ("flow_retry=FAILED flow_retry=FAILED", set()),
    "for_each": ("for_each=SUCCESS", set()),
    "for_each_item": (
        "for_each_item=SUCCESS per_batch=SUCCESS per_batch=SUCCESS",
        {"SubflowIterationEnded"},
    ),
    "if": ("if=SUCCESS", set()),
    "kill": ("kill=KILLED", {"TaskRunRunning", "ExecutionKilling", "TaskRunKilled"}),
    "parallel": ("parallel=SUCCESS", set()),
    "pause_resume": ("pause_resume=SUCCESS", {"ExecutionPaused", "ExecutionResumed"}),
    "pause_timeout": ("pause_timeout=FAILED", {"TaskRunPaused", "TaskRunFailed"}),
    "replay": ("replay=SUCCESS replay=SUCCESS", {"ExecutionReplayed"}),
    "restart": ("restart=FAILED", {"ExecutionRestarted"}),
    "sequential": ("sequential=SUCCESS", set()),
    "shell_commands": ("shell_commands=SUCCESS", {"TaskRunRunning"}),
    "subflow": ("child=SUCCESS parent=SUCCESS", set()),
    "switch": ("switch=SUCCESS", set()),
    "task_retry": ("task_retry=FAILED", {"TaskRunRetrying"}),
    "wait_for": ("wait_for=SUCCESS", {"TaskRunPaused", "TaskRunResumed"}),
    "working_directory": ("working_directory=SUCCESS", {"TaskRunRunning"}),
}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def assert_reproduces(path: Path, name: str | None = None) -> None:
    """The check every fixture must pass; its message is what a maintainer reads."""
    name = name or path.name
    with path.open(encoding="utf-8") as lines:
        report, stats = verify_export(lines, PluginRegistry.discover())
    assert stats.malformed == 0, f"{name}: {stats.malformed} malformed lines"
    if report.divergences:
        found = "\n".join(f"{name}: {d.describe()}" for d in report.divergences)
        raise AssertionError(
            f"{name} is not reproduced by the current code:\n{found}"
            + RERECORD.format(name=Path(name).stem)
        )
    recorded = _lines(path)
    created = {x["key"] for x in recorded if x["value"].get("type") == "ExecutionCreated"}
    events = {(x["key"], x["value"]["seq"]) for x in recorded if x["topic"] == "execution-events"}
    inputs = [x for x in recorded if x["topic"] in ("commands", "worker-results")]
    assert report.executions == len(created), f"{name}: executions missing from the replay"
    assert report.events == len(events), f"{name}: events left unchecked"
    assert report.messages == len(inputs), f"{name}: inputs left unreplayed"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_the_current_code_reproduces_every_recorded_event(fixture: Path) -> None:
    assert_reproduces(fixture)


def test_every_scenario_has_its_flows_and_its_recording() -> None:
    assert sorted(p.stem for p in FIXTURES) == sorted(SCENARIOS) == sorted(OUTCOMES)
    assert sorted(p.stem for p in HISTORIES.glob("*.yml")) == sorted(SCENARIOS)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_the_flows_beside_a_recording_are_the_ones_it_ran(fixture: Path) -> None:
    """An edited NAME.yml without a new recording would mislead its reader."""
    recorded = [
        decode_flow_event(x["value"]) for x in _lines(fixture) if x["topic"] == "flow-events"
    ]
    sources = [getattr(e, "source", None) for e in recorded]
    assert sources == flow_sources(fixture.stem), RERECORD.format(name=fixture.stem)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_each_recording_shows_the_scenario_it_is_named_after(fixture: Path) -> None:
    histories: dict[str, dict[int, ExecutionEvent]] = {}
    for item in _lines(fixture):
        if item["topic"] == "execution-events":
            event = decode_execution_event(item["value"])
            histories.setdefault(event.execution_id, {})[event.seq] = event
    ends = []
    for history in histories.values():
        state = fold([history[seq] for seq in sorted(history)])
        assert state is not None
        ends.append(f"{state.flow_id}={state.state.value}")
    types = {e.type for history in histories.values() for e in history.values()}
    ended, shown = OUTCOMES[fixture.stem]
    assert " ".join(sorted(ends)) == ended
    assert shown <= types, shown - types


def test_the_recordings_cover_every_flowable_and_every_operator_action() -> None:
    types: set[str] = set()
    events: set[str] = set()
    for fixture in FIXTURES:
        for item in _lines(fixture):
            if item["topic"] == "flow-events":
                source = item["value"].get("source") or ""
                types |= {
                    line.split("io.kestra.plugin.core.flow.")[1].strip()
                    for line in source.splitlines()
                    if "type: io.kestra.plugin.core.flow." in line
                }
            elif item["topic"] == "execution-events":
                events.add(item["value"]["type"])
    assert types >= FLOWABLES, FLOWABLES - types
    assert events >= EVENTS, EVENTS - events


# --- the check bites ---------------------------------------------------------------------


def _decided(lines: list[dict[str, Any]], event_type: str) -> int:
    """The index of the last recorded event of that type."""
    return max(
        i
        for i, x in enumerate(lines)
        if x["topic"] == "execution-events" and x["value"]["type"] == event_type
    )


def test_an_altered_event_is_reported_with_the_fixture_execution_seq_and_task(
    tmp_path: Path,
) -> None:
    lines = _lines(HISTORIES / "sequential.jsonl")
    index = next(
        i
        for i, x in enumerate(lines)
        if x["value"].get("type") == "TaskRunSucceeded"
        and x["value"].get("outputs") == {"value": "one then two"}
    )
    lines[index]["value"]["outputs"] = {"value": "not what the task returned"}
    event = decode_execution_event(lines[index]["value"])
    assert isinstance(event, TaskRunSucceeded)
    copy = _write(tmp_path / "sequential.jsonl", lines)
    with pytest.raises(AssertionError) as failed:
        assert_reproduces(copy, "sequential.jsonl (edited)")
    message = str(failed.value)
    assert "sequential.jsonl (edited) is not reproduced" in message
    assert f"execution {event.execution_id}, seq {event.seq} (TaskRunSucceeded)" in message
    assert f"task second (run {event.task_run_id})" in message
    assert "TaskRunSucceeded differs" in message
    assert "record_histories sequential" in message


def test_a_dropped_decision_is_reported_as_emitted_but_not_recorded(tmp_path: Path) -> None:
    lines = _lines(HISTORIES / "kill.jsonl")
    index = _decided(lines, "ExecutionKilled")
    dropped = decode_execution_event(lines.pop(index)["value"])
    copy = _write(tmp_path / "kill.jsonl", lines)
    with pytest.raises(AssertionError) as failed:
        assert_reproduces(copy)
    message = str(failed.value)
    assert f"kill.jsonl: execution {dropped.execution_id}, seq {dropped.seq}" in message
    assert "emits ExecutionKilled, not recorded" in message


def test_a_dropped_event_in_the_middle_is_a_gap(tmp_path: Path) -> None:
    lines = _lines(HISTORIES / "task_retry.jsonl")
    index = _decided(lines, "TaskRunRetrying")
    dropped = decode_execution_event(lines.pop(index)["value"])
    copy = _write(tmp_path / "task_retry.jsonl", lines)
    with pytest.raises(AssertionError) as failed:
        assert_reproduces(copy)
    message = str(failed.value)
    assert f"task_retry.jsonl: execution {dropped.execution_id}, seq {dropped.seq + 1}" in message
    assert f"gap: expected seq {dropped.seq}, found {dropped.seq + 1}" in message


def test_a_changed_decision_in_the_code_fails_the_fixture_that_records_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a behaviour-changing rewrite of the walk would meet."""

    def changed(
        flow: ValidatedFlow | None,
        state: Execution | None,
        inp: ExecutorMessage,
        catalog: Any,
        **rest: Any,
    ) -> list[ExecutionEvent]:
        return [
            e.model_copy(update={"outputs": {"value": "changed"}})
            if isinstance(e, TaskRunSucceeded) and e.outputs.get("value") == "one then two"
            else e
            for e in original(flow, state, inp, catalog, **rest)
        ]

    monkeypatch.setattr("streams.core.handle.decide", changed)
    assert_reproduces(HISTORIES / "dag.jsonl")  # untouched by the change
    with pytest.raises(AssertionError, match=r"sequential\.jsonl: execution \w+, seq \d+ "):
        assert_reproduces(HISTORIES / "sequential.jsonl")


def test_the_command_line_verifies_a_recording_file(tmp_path: Path) -> None:
    runner = CliRunner()
    fixture = HISTORIES / "subflow.jsonl"
    done = runner.invoke(app, ["replay", "verify", "--file", str(fixture)], env={"COLUMNS": "250"})
    assert done.exit_code == 0, done.output
    assert re.search(r"executions checked\s+│ 2 ", done.output), done.output
    lines = _lines(fixture)
    child = next(
        x["key"]
        for x in lines
        if x["topic"] == "execution-events" and x["value"]["flow_id"] == "child"
    )
    one = runner.invoke(
        app,
        ["replay", "verify", "--file", str(fixture), "--execution", child],
        env={"COLUMNS": "250"},
    )
    assert one.exit_code == 0 and re.search(r"executions checked\s+│ 1 ", one.output)
    index = _decided(lines, "ExecutionSucceeded")
    dropped = decode_execution_event(lines.pop(index)["value"])
    copy = _write(tmp_path / "subflow.jsonl", lines)
    done = runner.invoke(app, ["replay", "verify", "--file", str(copy)], env={"COLUMNS": "250"})
    assert done.exit_code == 1, done.output
    assert dropped.execution_id in done.output and "ExecutionSucceeded" in done.output
    missing = runner.invoke(app, ["replay", "verify", "--file", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
