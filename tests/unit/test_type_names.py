"""Suggestions for unknown task, trigger and task runner types: close, or none at all."""

from __future__ import annotations

import pytest

from schemas.triggers import TRIGGER_MODELS
from streams.core.type_names import closest_type_names
from streams.core.validation import FlowProblem, validate_flow
from streams.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry.discover()


def _problems(body: str) -> list[FlowProblem]:
    source = "id: demo\nnamespace: company.team\n" + body
    result = validate_flow(source, REGISTRY)
    assert isinstance(result, list), "expected problems, the flow validated"
    return result


@pytest.mark.parametrize(
    ("wanted", "offered"),
    [
        # A typo in the class, same plugin group.
        ("io.kestra.plugin.core.log.Logg", ["io.kestra.plugin.core.log.Log"]),
        ("io.kestra.plugin.core.flow.Paralel", ["io.kestra.plugin.core.flow.Parallel"]),
        ("io.kestra.plugin.scripts.shell.Command", ["io.kestra.plugin.scripts.shell.Commands"]),
        # The class right, the group misspelt: the current name, once.
        ("io.kestra.plugin.core.flows.Parallel", ["io.kestra.plugin.core.flow.Parallel"]),
        # Wrong case of the class.
        ("io.kestra.plugin.core.log.log", ["io.kestra.plugin.core.log.Log"]),
        # Short names get short suggestions.
        ("kv.Sett", ["kv.Set"]),
        ("log.Logg", ["log.Log"]),
    ],
)
def test_a_close_task_type_is_offered_once_in_the_style_written(
    wanted: str, offered: list[str]
) -> None:
    assert REGISTRY.nearest(wanted) == offered


@pytest.mark.parametrize(
    "wanted",
    [
        "io.kestra.plugin.mongodb.Find",
        "io.kestra.plugin.jdbc.oracle.Trigger",
        "io.kestra.plugin.scripts.r.Commands",  # not shell's, python's or node's Commands
        "io.kestra.plugin.aws.s3.Upload",
        "io.kestra.plugin.core.http.Upload",
        "io.kestra.plugin.gcp.bigquery.Query",
        "com.example.Thing",
    ],
)
def test_nothing_is_offered_when_nothing_is_close(wanted: str) -> None:
    assert REGISTRY.nearest(wanted) == []


def test_an_unknown_plugin_task_is_an_error_with_its_line_and_no_false_hint() -> None:
    problems = _problems(
        "tasks:\n  - id: q\n    type: io.kestra.plugin.mongodb.Find\n    filter: {}\n"
    )
    [problem] = [p for p in problems if p.path == "tasks[0].type"]
    assert problem.line == 5
    assert problem.message == "unknown task type 'io.kestra.plugin.mongodb.Find'"


def test_triggers_use_the_same_rule() -> None:
    assert closest_type_names("io.kestra.plugin.core.trigger.Schedul", TRIGGER_MODELS) == [
        "io.kestra.plugin.core.trigger.Schedule"
    ]
    assert closest_type_names("io.kestra.plugin.gcp.pubsub.RealtimeTrigger", TRIGGER_MODELS) == []
    assert closest_type_names("io.kestra.plugin.jdbc.oracle.Trigger", TRIGGER_MODELS) == []
    problems = _problems(
        "tasks:\n  - id: a\n    type: log.Log\n    message: hi\n"
        "triggers:\n  - id: t\n    type: io.kestra.plugin.jdbc.postgresql.Trigger\n"
    )
    [problem] = [p for p in problems if p.path == "triggers[0].type"]
    assert problem.line == 9
    assert problem.message == "unknown trigger type 'io.kestra.plugin.jdbc.postgresql.Trigger'"


def test_a_task_runner_other_than_process_is_refused_with_its_line() -> None:
    problems = _problems(
        "tasks:\n"
        "  - id: s\n"
        "    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    commands: [echo hi]\n"
        "    taskRunner:\n"
        "      type: io.kestra.plugin.scripts.runner.docker.Docker\n"
    )
    [problem] = [p for p in problems if p.path.startswith("tasks[0].taskRunner")]
    assert problem.line == 7
    assert "unsupported task runner type 'io.kestra.plugin.scripts.runner.docker.Docker'" in (
        problem.message
    )
    assert "io.kestra.plugin.core.runner.Process" in problem.message
    assert "did you mean" not in problem.message


def test_the_process_runner_validates_and_a_misspelt_one_is_offered_it() -> None:
    ok = validate_flow(
        "id: demo\nnamespace: company.team\ntasks:\n  - id: s\n"
        "    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [echo hi]\n"
        "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n",
        REGISTRY,
    )
    assert not isinstance(ok, list), [str(p) for p in ok]
    problems = _problems(
        "tasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    commands: [echo hi]\n    taskRunner:\n"
        "      type: io.kestra.plugin.core.runner.Proces\n"
    )
    [problem] = [p for p in problems if p.path.startswith("tasks[0].taskRunner")]
    assert "did you mean io.kestra.plugin.core.runner.Process?" in problem.message


def test_trigger_conditions_that_do_not_run_here_are_errors_naming_each() -> None:
    problems = _problems(
        "tasks:\n  - id: a\n    type: log.Log\n    message: hi\n"
        "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
        '    cron: "0 * * * *"\n    conditions:\n'
        "      - type: io.kestra.plugin.core.condition.DayWeek\n        dayOfWeek: MONDAY\n"
    )
    [problem] = problems
    assert problem.path == "triggers[0].conditions[0]" and problem.line == 12
    assert "io.kestra.plugin.core.condition.DayWeek" in problem.message
    assert "not supported" in problem.message
