"""Flow validation: each kind of problem, with its path and line, and all of them at once."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from streams.core.validation import FlowProblem, ValidatedFlow, validate_flow
from streams.plugins.core.flowables import If
from streams.plugins.core.simple import Log
from streams.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry.discover()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    [*(ROOT / "flows").glob("*.yml"), *(Path(__file__).parent / "data").glob("*.yml")]
)

HEAD = "id: demo\nnamespace: company.team\n"  # lines 1 and 2 of most flows below


def _dedent(source: str) -> str:
    # The body after HEAD is written indented inside the test, HEAD is not.
    if source.startswith(HEAD):
        return HEAD + dedent(source.removeprefix(HEAD))
    return dedent(source)


def problems_of(source: str) -> list[FlowProblem]:
    result = validate_flow(_dedent(source), REGISTRY)
    assert isinstance(result, list), "expected problems, the flow validated"
    return result


def at(problems: list[FlowProblem], path: str) -> FlowProblem:
    found = [p for p in problems if p.path == path]
    assert len(found) == 1, f"no single problem at {path!r} in {[str(p) for p in problems]}"
    return found[0]


def valid(source: str) -> ValidatedFlow:
    result = validate_flow(_dedent(source), REGISTRY)
    assert isinstance(result, ValidatedFlow), [str(p) for p in result]
    return result


def test_a_valid_flow_gives_the_flow_and_every_task_typed_by_its_plugin() -> None:
    result = valid(
        HEAD
        + """\
        tasks:
          - id: check
            type: io.kestra.plugin.core.flow.If
            condition: "{{ true }}"
            then:
              - id: say
                type: log.Log
                message: hi
        finally:
          - id: bye
            type: io.kestra.plugin.core.log.Log
            message: bye
        """
    )
    assert result.flow.uid == "company.team/demo"
    assert set(result.tasks) == {"check", "say", "bye"}
    assert isinstance(result.tasks["check"], If)
    assert isinstance(result.tasks["say"], Log)


def test_malformed_yaml_gives_the_parser_line() -> None:
    problems = problems_of(HEAD + "tasks:\n  - id: a\n    message: [unclosed\n  - id: b\n")
    assert len(problems) == 1
    assert problems[0].path == ""
    assert problems[0].line == 6
    assert problems[0].message.startswith("malformed YAML")


@pytest.mark.parametrize(
    ("source", "words"),
    [("- id: a\n", "a list, not a mapping"), ("just text\n", "a string"), ("", "empty")],
)
def test_a_document_that_is_not_a_mapping(source: str, words: str) -> None:
    (problem,) = problems_of(source)
    assert problem.path == ""
    assert problem.line == 1
    assert "must be a YAML mapping" in problem.message
    assert words in problem.message


def test_a_missing_property_points_at_its_parent_mapping() -> None:
    problems = problems_of(
        """\
        id: demo
        namespace: company.team
        tasks:
          - type: log.Log
            message: hi
        """
    )
    assert at(problems, "tasks[0].id").line == 4
    assert "required property 'id' is missing" in at(problems, "tasks[0].id").message
    assert [p.path for p in problems_of("id: demo\nnamespace: a.b\n")] == ["tasks"]
    assert problems_of("id: demo\nnamespace: a.b\n")[0].line == 1


def test_an_unknown_flow_property_suggests_the_known_one() -> None:
    problems = problems_of(HEAD + "task:\n  - id: a\n    type: log.Log\n    message: hi\n")
    unknown = at(problems, "task")
    assert unknown.line == 3
    assert "unknown property 'task'" in unknown.message
    assert "did you mean 'tasks'?" in unknown.message


def test_wrong_types_and_patterns_of_flow_properties() -> None:
    problems = problems_of(
        """\
        id: my flow
        namespace: Company.Team
        disabled: sometimes
        tasks:
          - id: a
            type: log.Log
            message: hi
        """
    )
    assert at(problems, "id").line == 1
    assert "should match pattern" in at(problems, "id").message
    assert "'my flow'" in at(problems, "id").message
    assert at(problems, "namespace").line == 2
    assert "should match pattern" in at(problems, "namespace").message
    assert at(problems, "disabled").line == 3
    assert "valid boolean" in at(problems, "disabled").message


def test_union_branches_are_merged_into_one_message() -> None:
    problems = problems_of(
        HEAD + "labels: 5\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n"
    )
    assert at(problems, "labels").message.startswith(
        "Input should be a valid dictionary or a valid list"
    )


def test_the_finally_alias_is_the_path() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: a
            type: log.Log
            message: hi
        finally:
          - id: bad id
            type: log.Log
            message: bye
        """
    )
    problem = at(problems, "finally[0].id")
    assert problem.line == 8
    assert "should match pattern" in problem.message


def test_an_unknown_task_type_suggests_the_nearest_name() -> None:
    problems = problems_of(
        HEAD + "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Lg\n    message: hi\n"
    )
    problem = at(problems, "tasks[0].type")
    assert problem.line == 5
    assert problem.message == (
        "unknown task type 'io.kestra.plugin.core.log.Lg'; "
        "did you mean io.kestra.plugin.core.log.Log?"
    )
    assert str(problem) == f"line 5, tasks[0].type: {problem.message}"


def test_a_task_property_error_comes_from_its_plugin_model() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: a
            type: log.Log
            mesage: hi
            level: LOUD
        """
    )
    assert at(problems, "tasks[0].message").line == 4
    assert "required property 'message'" in at(problems, "tasks[0].message").message
    assert at(problems, "tasks[0].mesage").line == 6
    assert "did you mean 'message'?" in at(problems, "tasks[0].mesage").message
    assert at(problems, "tasks[0].level").line == 7
    assert "'LOUD'" in at(problems, "tasks[0].level").message


def test_nested_task_errors_have_nested_paths() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: first
            type: log.Log
            message: ok
          - id: group
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: inner
                type: log.Log
                message: {not: text}
          - id: branch
            type: io.kestra.plugin.core.flow.If
            condition: "{{ true }}"
            then:
              - id: yes_branch
                type: log.Log
            else:
              - id: no_branch
                type: log.Log
                message: ok
                colour: red
          - id: pick
            type: io.kestra.plugin.core.flow.Switch
            value: "{{ inputs.x }}"
            cases:
              X:
                - id: in_case
                  type: io.kestra.plugin.core.flow.Sleep
          - id: graph
            type: io.kestra.plugin.core.flow.Dag
            tasks:
              - task:
                  id: node
                  type: log.Log
                  level: NOISY
                  message: ok
        """
    )
    assert at(problems, "tasks[1].tasks[0].message").line == 12
    assert "valid string or a valid list" in at(problems, "tasks[1].tasks[0].message").message
    # A missing property is placed on its task's first line.
    assert at(problems, "tasks[2].then[0].message").line == 17
    assert "required property 'message'" in at(problems, "tasks[2].then[0].message").message
    assert at(problems, "tasks[2].else[0].colour").line == 23
    assert at(problems, "tasks[3].cases.X[0].duration").line == 29
    assert at(problems, "tasks[4].tasks[0].task.level").line == 37


def test_duplicate_task_ids_anywhere_in_the_flow() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: step
            type: log.Log
            message: one
          - id: group
            type: flow.Parallel
            tasks:
              - id: step
                type: log.Log
                message: two
        errors:
          - id: group
            type: log.Log
            message: three
        """
    )
    nested = at(problems, "tasks[1].tasks[0].id")
    assert nested.line == 10
    assert "duplicate task id 'step'" in nested.message
    assert "tasks[0]" in nested.message
    assert "duplicate task id 'group'" in at(problems, "errors[0].id").message
    assert at(problems, "errors[0].id").line == 14


def test_duplicate_input_ids() -> None:
    problems = problems_of(
        HEAD
        + """\
        inputs:
          - id: size
            type: INT
          - id: size
            type: STRING
        tasks:
          - id: a
            type: log.Log
            message: hi
        """
    )
    problem = at(problems, "inputs[1].id")
    assert problem.line == 6
    assert "duplicate input id 'size'" in problem.message


def test_bad_input_definitions() -> None:
    problems = problems_of(
        HEAD
        + """\
        inputs:
          - id: name
            type: STRING
            min: 3
          - id: choice
            type: SELECT
          - id: count
            type: NUMBER
        tasks:
          - id: a
            type: log.Log
            message: hi
        """
    )
    assert at(problems, "inputs[0].min").line == 6
    assert "min/max only apply to INT, FLOAT and DURATION" in at(problems, "inputs[0].min").message
    assert at(problems, "inputs[1].type").line == 8
    assert "needs 'values'" in at(problems, "inputs[1].type").message
    assert at(problems, "inputs[2].type").line == 10
    assert "'NUMBER'" in at(problems, "inputs[2].type").message


DAG = (
    HEAD
    + """\
    tasks:
      - id: graph
        type: io.kestra.plugin.core.flow.Dag
        tasks:
          - task: {id: extract, type: log.Log, message: e}
            dependsOn: [load]
          - task: {id: transform, type: log.Log, message: t}
            dependsOn: [extract, tranform_typo]
          - task: {id: load, type: log.Log, message: l}
            dependsOn: [transform]
    """
)


def test_dag_depends_on_an_unknown_task() -> None:
    problem = at(problems_of(DAG), "tasks[0].tasks[1].dependsOn[1]")
    assert problem.line == 10
    assert "'tranform_typo', which is not a task of this Dag" in problem.message
    assert "did you mean 'transform'?" in problem.message


def test_dag_dependency_cycle() -> None:
    problem = at(problems_of(DAG), "tasks[0].tasks[0].dependsOn")
    assert problem.line == 8
    assert problem.message == "dependency cycle: extract -> load -> transform -> extract"


def test_a_subflow_may_start_its_own_flow() -> None:
    valid(
        HEAD
        + """\
        tasks:
          - id: again
            type: io.kestra.plugin.core.flow.Subflow
            namespace: company.team
            flowId: demo
            wait: false
        """
    )


def test_a_trigger_type_that_does_not_run_here_is_refused_with_its_line() -> None:
    problem = at(
        problems_of(
            HEAD
            + """\
        tasks:
          - id: a
            type: log.Log
            message: hi
        triggers:
          - id: later
            type: io.example.SomeTriggerNotYetKnown
            anything: goes
        """
        ),
        "triggers[0].type",
    )
    assert "unknown trigger type 'io.example.SomeTriggerNotYetKnown'" in problem.message
    assert problem.line == 9


def test_an_unknown_trigger_type_is_offered_the_known_one_with_its_name() -> None:
    problem = at(
        problems_of(
            HEAD
            + """\
        tasks:
          - id: a
            type: log.Log
            message: hi
        triggers:
          - id: later
            type: io.kestra.core.models.triggers.Schedule
            cron: "* * * * *"
        """
        ),
        "triggers[0].type",
    )
    assert "did you mean" in problem.message and "trigger.Schedule" in problem.message


def test_an_invalid_cron_or_time_zone_is_refused_at_deploy() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: a
            type: log.Log
            message: hi
        triggers:
          - id: later
            type: io.kestra.plugin.core.trigger.Schedule
            cron: "61 * * * *"
            timezone: Mars/Olympus
        """
    )
    assert "not a valid 5-field cron" in at(problems, "triggers[0].cron").message
    assert "unknown time zone" in at(problems, "triggers[0].timezone").message


def test_duplicate_yaml_keys_are_reported() -> None:
    problem = at(
        problems_of(
            HEAD + "tasks:\n  - id: a\n    type: log.Log\n    message: one\n    message: two\n"
        ),
        "tasks[0].message",
    )
    assert problem.line == 7
    assert "duplicate key 'message' (first on line 6)" in problem.message


def test_expression_syntax_errors_in_any_string_property() -> None:
    problems = problems_of(
        HEAD
        + """\
        inputs:
          - id: who
            type: STRING
            defaults: "{{ 'x' ~ }}"
        variables:
          nested:
            list: ["fine", "{{ vars.a | }}"]
        tasks:
          - id: a
            type: flow.Sequential
            tasks:
              - id: b
                type: log.Log
                message: ["ok {{ inputs.who }}", "{{ inputs.who ( }}"]
        outputs:
          - id: out
            value: "{% if %}"
        """
    )
    expected = {
        "inputs[0].defaults": 6,
        "variables.nested.list[1]": 9,
        "tasks[0].tasks[0].message[1]": 16,
        "outputs[0].value": 19,
    }
    for path, line in expected.items():
        problem = at(problems, path)
        assert problem.line == line
        assert problem.message.startswith("expression syntax error")
    assert not [p for p in problems if p.path == "tasks[0].tasks[0].message[0]"]


def test_a_flow_with_several_problems_reports_all_of_them_in_line_order() -> None:
    problems = problems_of(
        """\
        id: demo
        namespace: Bad Namespace
        inputs:
          - id: x
            type: INT
          - id: x
            type: INT
        tasks:
          - id: a
            type: log.Lg
            message: hi
          - id: a
            type: log.Log
        """
    )
    assert [(p.line, p.path) for p in problems] == [
        (2, "namespace"),
        (6, "inputs[1].id"),
        (10, "tasks[0].type"),
        (12, "tasks[1].id"),
        (12, "tasks[1].message"),
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_flow_validates_clean(path: Path) -> None:
    result = validate_flow(path.read_text(encoding="utf-8"), REGISTRY)
    assert isinstance(result, ValidatedFlow), "\n".join(str(p) for p in result)


def test_there_are_example_flows() -> None:
    assert len(EXAMPLES) >= 2


def test_a_kestra_template_task_is_refused_with_what_to_do_instead() -> None:
    problems = problems_of(
        HEAD
        + """\
        tasks:
          - id: tpl
            type: io.kestra.plugin.core.flow.Template
            namespace: company.team
            templateId: shared
        """
    )
    assert "flow.Subflow" in at(problems, "tasks[0].type").message
