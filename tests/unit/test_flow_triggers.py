"""The pure side of Flow triggers: conditions, preconditions, time windows and the join,
the flows as they were at a given time, and what validation says about bad triggers."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from schemas.events import FlowCreated, FlowDeleted, FlowUpdated
from schemas.states import State
from schemas.triggers.flow import FlowTrigger, TimeWindow
from schemas.triggers.upstream import ConditionsMet, JoinState, UpstreamExecution
from streams.core.ids import derive_id
from streams.core.validation import validate_flow
from streams.flow_catalog import FlowSources
from streams.plugins.registry import PluginRegistry
from streams.triggers.flow_index import FlowTriggerIndex
from streams.triggers.flow_join import join, together, window_of
from streams.triggers.flow_match import (
    TriggerInputError,
    concerns,
    met_preconditions,
    render_inputs,
)

UTC = dt.UTC
REGISTRY = PluginRegistry.discover()


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def upstream(
    flow_id: str = "a",
    state: State = State.SUCCESS,
    time: dt.datetime | None = None,
    *,
    execution_id: str | None = None,
    seq: int = 5,
    namespace: str = "company.team",
    labels: dict[str, str] | None = None,
    outputs: dict[str, Any] | None = None,
) -> UpstreamExecution:
    return UpstreamExecution(
        execution_id=execution_id or f"{flow_id}-1",
        seq=seq,
        time=time or at(10),
        state=state,
        tenant="main",
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        labels=labels or {},
        outputs=outputs or {},
    )


def flow_trigger(**fields: Any) -> FlowTrigger:
    return FlowTrigger.model_validate(
        {"id": "t", "type": "io.kestra.plugin.core.trigger.Flow", **fields}
    )


ME = ("company.team", "downstream")


# --- conditions -----------------------------------------------------------------------


def test_a_trigger_never_reacts_to_its_own_flow_and_only_to_its_states() -> None:
    trigger = flow_trigger()
    assert concerns(trigger, ME, upstream())
    assert not concerns(trigger, ME, upstream("downstream"))
    assert not concerns(trigger, ME, upstream(state=State.RUNNING))
    assert concerns(flow_trigger(states=["PAUSED"]), ME, upstream(state=State.PAUSED))
    # Kestra's default: every terminal state, failures included.
    for state in (State.FAILED, State.KILLED, State.WARNING, State.CANCELLED):
        assert concerns(trigger, ME, upstream(state=state))


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        (
            {
                "type": "io.kestra.plugin.core.condition.ExecutionFlow",
                "namespace": "company.team",
                "flowId": "a",
            },
            upstream("a"),
            upstream("b"),
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.ExecutionNamespace",
                "namespace": "company",
                "prefix": True,
            },
            upstream(namespace="company.team"),
            upstream(namespace="other.company"),
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.ExecutionNamespace",
                "namespace": "team",
                "comparison": "SUFFIX",
            },
            upstream(namespace="company.team"),
            upstream(namespace="team.company"),
        ),
        (
            {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]},
            upstream(state=State.SUCCESS),
            upstream(state=State.FAILED),
        ),
        (
            {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "notIn": ["FAILED"]},
            upstream(state=State.WARNING),
            upstream(state=State.FAILED),
        ),
        (
            {"type": "io.kestra.plugin.core.condition.ExecutionLabels", "labels": {"env": "prod"}},
            upstream(labels={"env": "prod", "team": "x"}),
            upstream(labels={"env": "dev"}),
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.ExecutionLabels",
                "labels": [{"key": "env", "value": "prod"}],
            },
            upstream(labels={"env": "prod"}),
            upstream(),
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.ExecutionOutputs",
                "expression": "{{ trigger.outputs.code == 200 }}",
            },
            upstream(outputs={"code": 200}),
            upstream(outputs={"code": 500}),
        ),
        (
            {
                "type": "io.kestra.plugin.core.condition.Expression",
                "expression": "{{ trigger.flowId == 'a' and execution.state == 'SUCCESS' }}",
            },
            upstream("a"),
            upstream("b"),
        ),
    ],
)
def test_each_condition_type(
    condition: dict[str, Any], matching: UpstreamExecution, other: UpstreamExecution
) -> None:
    trigger = flow_trigger(conditions=[condition])
    assert concerns(trigger, ME, matching)
    assert not concerns(trigger, ME, other)


def test_outputs_condition_without_outputs_and_broken_expressions_do_not_match() -> None:
    outputs = flow_trigger(
        conditions=[
            {"type": "io.kestra.plugin.core.condition.ExecutionOutputs", "expression": "{{ true }}"}
        ]
    )
    assert not concerns(outputs, ME, upstream())
    broken = flow_trigger(
        conditions=[{"type": "condition.Expression", "expression": "{{ nothing.here }}"}]
    )
    assert not concerns(broken, ME, upstream())


def test_labels_as_a_map_or_a_list() -> None:
    listed = flow_trigger(labels=[{"key": "team", "value": "data"}])
    assert listed.label_map() == flow_trigger(labels={"team": "data"}).label_map()


def test_inputs_render_over_the_upstream_outputs_and_trigger_variables() -> None:
    trigger = flow_trigger(
        inputs={
            "date": "{{ trigger.outputs.date }}",
            "from": "{{ trigger.executionId }}",
            "literal": 3,
        }
    )
    rendered = render_inputs(trigger, upstream(outputs={"date": "2026-01-01"}))
    assert rendered == {"date": "2026-01-01", "from": "a-1", "literal": 3}
    with pytest.raises(TriggerInputError, match="input 'date': undefined variable"):
        render_inputs(trigger, upstream())


# --- preconditions: which ones one execution meets --------------------------------------


def kestra_preconditions(**extra: Any) -> FlowTrigger:
    """Kestra's flow-trigger-preconditions-flow-listen test flow, as a model."""
    return flow_trigger(
        preconditions={
            "id": "flow",
            "flows": [
                {
                    "namespace": "io.kestra.tests.trigger.preconditions",
                    "flowId": "flow-trigger-preconditions-flow-a",
                    "states": ["SUCCESS", "WARNING", "FAILED"],
                },
                {
                    "namespace": "io.kestra.tests.trigger.preconditions",
                    "flowId": "flow-trigger-preconditions-flow-b",
                    "states": ["SUCCESS"],
                },
            ],
            "where": [
                {
                    "id": "flow1",
                    "filters": [
                        {
                            "field": "NAMESPACE",
                            "type": "STARTS_WITH",
                            "value": "io.kestra.tests.trigger",
                        },
                        {
                            "field": "FLOW_ID",
                            "type": "EQUAL_TO",
                            "value": "flow-trigger-preconditions-flow-a",
                        },
                        {
                            "field": "EXPRESSION",
                            "type": "IS_TRUE",
                            "value": "{{ labels.some == 'label' }}",
                        },
                    ],
                },
                {
                    "id": "flow2",
                    "filters": [
                        {
                            "field": "NAMESPACE",
                            "type": "ENDS_WITH",
                            "value": "trigger.preconditions",
                        },
                        {
                            "field": "FLOW_ID",
                            "type": "EQUAL_TO",
                            "value": "flow-trigger-preconditions-flow-b",
                        },
                    ],
                },
            ],
            **extra,
        }
    )


def test_preconditions_met_by_one_execution() -> None:
    trigger = kestra_preconditions()
    ns = "io.kestra.tests.trigger.preconditions"
    flow_a = upstream("flow-trigger-preconditions-flow-a", namespace=ns, labels={"some": "label"})
    flow_b = upstream("flow-trigger-preconditions-flow-b", namespace=ns)
    failed_b = upstream("flow-trigger-preconditions-flow-b", State.FAILED, namespace=ns)
    assert met_preconditions(trigger, flow_a) == ("flows[0]", "where[flow1]")
    assert met_preconditions(trigger, flow_b) == ("flows[1]", "where[flow2]")
    assert met_preconditions(trigger, failed_b) == ("where[flow2]",)
    unlabelled = upstream("flow-trigger-preconditions-flow-a", namespace=ns)
    assert met_preconditions(trigger, unlabelled) == ("flows[0]",)


@pytest.mark.parametrize(
    ("item", "flow_id", "expected"),
    [
        ({"field": "FLOW_ID", "type": "IN", "values": ["a", "b"]}, "a", True),
        ({"field": "FLOW_ID", "type": "NOT_IN", "values": ["a", "b"]}, "a", False),
        ({"field": "FLOW_ID", "type": "NOT_EQUAL_TO", "value": "a"}, "b", True),
        # Java's String.matches: the whole value, not a part of it.
        ({"field": "FLOW_ID", "type": "REGEX", "value": "ab?"}, "ab", True),
        ({"field": "FLOW_ID", "type": "REGEX", "value": "a"}, "ab", False),
        ({"field": "FLOW_ID", "type": "CONTAINS", "value": "b"}, "abc", True),
        ({"field": "STATE", "type": "EQUAL_TO", "value": "SUCCESS"}, "a", True),
        (
            {"field": "EXPRESSION", "type": "IS_FALSE", "value": "{{ trigger.flowId == 'a' }}"},
            "b",
            True,
        ),
        ({"field": "EXPRESSION", "type": "IS_NULL", "value": "{{ null }}"}, "a", True),
    ],
)
def test_where_filters(item: dict[str, Any], flow_id: str, expected: bool) -> None:
    trigger = flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "filters": [item]}]})
    assert (met_preconditions(trigger, upstream(flow_id)) == ("where[w]",)) is expected


def test_a_backtracking_regex_filter_does_not_match_and_does_not_hang_the_scheduler() -> None:
    # `(a|aa)+$` against forty a's and a '!' backtracks for minutes without a timeout; on
    # the scheduler it would stall every Flow trigger.
    item = {"field": "FLOW_ID", "type": "REGEX", "value": "(a|aa)+$"}
    trigger = flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "filters": [item]}]})
    started = time.monotonic()
    assert met_preconditions(trigger, upstream("a" * 40 + "!")) == ()
    assert time.monotonic() - started < 15  # a 1 s timeout, checked now and then


def test_where_with_or_operand() -> None:
    trigger = flow_trigger(
        preconditions={
            "id": "p",
            "where": [
                {
                    "id": "w",
                    "operand": "OR",
                    "filters": [
                        {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "x"},
                        {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "a"},
                    ],
                }
            ],
        }
    )
    assert met_preconditions(trigger, upstream("a")) == ("where[w]",)
    assert met_preconditions(trigger, upstream("b")) == ()


def test_upstream_flow_labels_must_all_match() -> None:
    trigger = flow_trigger(
        preconditions={
            "id": "p",
            "flows": [
                {"namespace": "company.team", "flowId": "a", "labels": {"env": "prod", "n": 1}}
            ],
        }
    )
    assert met_preconditions(trigger, upstream(labels={"env": "prod", "n": "1"})) == ("flows[0]",)
    assert met_preconditions(trigger, upstream(labels={"env": "prod"})) == ()


# --- time windows -----------------------------------------------------------------------


def window(**fields: Any) -> TimeWindow:
    return TimeWindow.model_validate(fields)


def test_duration_window_defaults_to_the_utc_day() -> None:
    assert window_of(window(), at(10)) == (at(0), at(0, day=2))
    assert window_of(window(window="P1D", windowAdvance="PT6H"), at(5)) == (
        at(6) - dt.timedelta(days=1),
        at(6),
    )


def test_duration_window_shorter_than_a_day_is_cut_from_midnight_plus_advance() -> None:
    six = window(window="PT6H")
    assert window_of(six, at(7, 30)) == (at(6), at(12))
    shifted = window(window="PT6H", windowAdvance="PT3H")
    assert window_of(shifted, at(8, 59)) == (at(3), at(9))
    assert window_of(shifted, at(9)) == (at(9), at(15))
    assert window_of(shifted, at(1)) == (at(21) - dt.timedelta(days=1), at(3))
    # A window that does not divide the day ends at the next day's first window.
    seven = window(window="PT7H")
    assert window_of(seven, at(22)) == (at(21), at(0, day=2))
    ten_minutes = window(window="PT10M")
    assert window_of(ten_minutes, at(10, 17, 3)) == (at(10, 10), at(10, 20))


def test_daily_windows_exclude_the_off_hours() -> None:
    deadline = window(type="DAILY_TIME_DEADLINE", deadline="09:00:00")
    assert window_of(deadline, at(8, 59)) == (at(0), at(9))
    assert window_of(deadline, at(9)) is None
    daily = window(type="DAILY_TIME_WINDOW", startTime="06:00:00", endTime="09:00:00")
    assert window_of(daily, at(7)) == (at(6), at(9))
    assert window_of(daily, at(5, 59)) is None
    assert window_of(daily, at(9)) is None


def test_unquoted_yaml_times_of_day_read_as_base_60_numbers_still_work() -> None:
    daily = window(type="DAILY_TIME_WINDOW", startTime=6 * 3600, endTime="09:00:00")
    assert window_of(daily, at(7)) == (at(6), at(9))
    found = problems_of("""  - id: f
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      flows:
        - namespace: company.team
      timeWindow:
        type: DAILY_TIME_WINDOW
        startTime: 9:00:00
        endTime: "08:00:00"
""")
    assert [path for _, path, _ in found] == ["triggers[0].preconditions.timeWindow.endTime"]


def test_sliding_window_holds_times_within_its_length_of_one_another() -> None:
    sliding = window(type="SLIDING_WINDOW", window="PT1H")
    assert together(sliding, [at(10), at(10, 59)], at(10, 59))
    assert not together(sliding, [at(10), at(11, 1)], at(11, 1))
    fixed = window(window="PT1H")
    assert not together(fixed, [at(10, 59), at(11, 1)], at(11, 1))


# --- the join ---------------------------------------------------------------------------

TWO_FLOWS = {
    "id": "both",
    "flows": [
        {"namespace": "company.team", "flowId": "a", "states": ["SUCCESS"]},
        {"namespace": "company.team", "flowId": "b", "states": ["SUCCESS"]},
    ],
}


def met(trigger: FlowTrigger, up: UpstreamExecution, revision: int = 1) -> ConditionsMet:
    return ConditionsMet(
        tenant="main",
        namespace=ME[0],
        flow_id=ME[1],
        trigger_id=trigger.id,
        flow_revision=revision,
        conditions=met_preconditions(trigger, up),
        upstream=up,
    )


def run_join(
    trigger: FlowTrigger, ups: list[UpstreamExecution], state: JoinState | None = None
) -> tuple[JoinState | None, list[str]]:
    assert trigger.preconditions is not None
    fired: list[str] = []
    for up in ups:
        record = met(trigger, up)
        if not record.conditions:
            continue
        state, fire = join(state, record, trigger.preconditions)
        if fire:
            fired.append(fire.execution_id)
    return state, fired


def test_two_flows_in_one_window_fire_once_whatever_their_order() -> None:
    trigger = flow_trigger(preconditions=TWO_FLOWS)
    a, b = upstream("a", time=at(10)), upstream("b", time=at(11))
    _, forward = run_join(trigger, [a, b])
    _, backward = run_join(trigger, [b, a])
    assert len(forward) == 1
    assert forward == backward
    key = "main/company.team/downstream/t"
    assert forward[0] == derive_id(key, "both", "a-1:5", "b-1:5")


def test_a_failure_does_not_count_and_a_redelivery_does_not_count_twice() -> None:
    trigger = flow_trigger(preconditions=TWO_FLOWS)
    a = upstream("a", time=at(10))
    failed_b = upstream("b", State.FAILED, time=at(10, 5), execution_id="b-failed")
    state, fired = run_join(trigger, [a, failed_b])
    assert fired == []
    state, fired = run_join(trigger, [upstream("b", time=at(10, 10))], state)
    assert len(fired) == 1
    assert state is not None and state.met == {}  # reset on success
    # The same records again (a restart reading them twice) fire nothing new.
    state, again = run_join(trigger, [a, upstream("b", time=at(10, 10))], state)
    assert again == []
    assert state is not None and state.met == {}


def test_conditions_met_in_an_earlier_window_are_forgotten() -> None:
    trigger = flow_trigger(preconditions={**TWO_FLOWS, "timeWindow": {"window": "PT1H"}})
    _, fired = run_join(trigger, [upstream("a", time=at(10, 50)), upstream("b", time=at(11, 5))])
    assert fired == []
    state, fired = run_join(
        trigger, [upstream("a", time=at(10, 50)), upstream("b", time=at(11, 5))]
    )
    assert state is not None and set(state.met) == {"flows[1]"}
    _, fired = run_join(trigger, [upstream("a", time=at(11, 20), execution_id="a-2")], state)
    assert len(fired) == 1


def test_sliding_window_join() -> None:
    trigger = flow_trigger(
        preconditions={**TWO_FLOWS, "timeWindow": {"type": "SLIDING_WINDOW", "window": "PT1H"}}
    )
    _, fired = run_join(trigger, [upstream("a", time=at(10)), upstream("b", time=at(11, 30))])
    assert fired == []
    _, fired = run_join(trigger, [upstream("a", time=at(10, 50)), upstream("b", time=at(11, 30))])
    assert len(fired) == 1


def test_daily_deadline_join_ignores_executions_after_the_deadline() -> None:
    trigger = flow_trigger(
        preconditions={
            **TWO_FLOWS,
            "timeWindow": {"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"},
        }
    )
    _, fired = run_join(trigger, [upstream("a", time=at(8)), upstream("b", time=at(9, 30))])
    assert fired == []
    _, fired = run_join(trigger, [upstream("a", time=at(8)), upstream("b", time=at(8, 30))])
    assert len(fired) == 1


def test_daily_time_window_join() -> None:
    trigger = flow_trigger(
        preconditions={
            **TWO_FLOWS,
            "timeWindow": {
                "type": "DAILY_TIME_WINDOW",
                "startTime": "06:00:00",
                "endTime": "09:00:00",
            },
        }
    )
    _, fired = run_join(trigger, [upstream("a", time=at(5)), upstream("b", time=at(7))])
    assert fired == []
    _, fired = run_join(trigger, [upstream("a", time=at(6, 1)), upstream("b", time=at(7))])
    assert len(fired) == 1


def test_without_reset_each_new_match_in_the_window_fires_again() -> None:
    trigger = flow_trigger(preconditions={**TWO_FLOWS, "resetOnSuccess": False})
    ups = [
        upstream("a", time=at(10)),
        upstream("b", time=at(11)),
        upstream("b", time=at(12), execution_id="b-2"),
    ]
    _, fired = run_join(trigger, ups)
    assert len(fired) == 2 and fired[0] != fired[1]


def test_a_new_flow_revision_starts_the_join_over() -> None:
    trigger = flow_trigger(preconditions=TWO_FLOWS)
    assert trigger.preconditions is not None
    state, _ = join(None, met(trigger, upstream("a")), trigger.preconditions)
    state, fire = join(state, met(trigger, upstream("b"), revision=2), trigger.preconditions)
    assert fire is None and set(state.met) == {"flows[1]"}


# --- the flows as they were -------------------------------------------------------------

LISTENER = """
id: downstream
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: on_a
    type: io.kestra.plugin.core.trigger.Flow
    disabled: {disabled}
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: a
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 * * *"
    stopAfter: [FAILED, WARNING]
"""


def test_the_index_uses_the_revision_deployed_at_the_upstream_time() -> None:
    sources = FlowSources(REGISTRY)
    common = {"tenant": "main", "namespace": "company.team", "flow_id": "downstream", "actor": "me"}
    sources.apply(
        FlowCreated(
            event_id="1", revision=1, time=at(9), source=LISTENER.format(disabled="false"), **common
        )
    )
    sources.apply(
        FlowUpdated(
            event_id="2", revision=2, time=at(11), source=LISTENER.format(disabled="true"), **common
        )
    )
    index = FlowTriggerIndex(sources)
    assert index.targets_at("main", at(8)) == []
    [target] = index.targets_at("main", at(10))
    assert (target.revision, target.trigger.id) == (1, "on_a")
    assert target.key == "main/company.team/downstream/on_a"
    assert index.targets_at("main", at(12)) == []  # disabled in YAML from revision 2
    assert index.targets_at("other", at(10)) == []
    assert index.stop_after("main", "company.team", "downstream", "nightly") == [
        "FAILED",
        "WARNING",
    ]
    assert index.stop_after("main", "company.team", "downstream", "on_a") == []
    # A flow deployed after the index looked is found (the catalog's version moved).
    later = {**common, "flow_id": "later"}
    source = LISTENER.format(disabled="false").replace("id: downstream", "id: later")
    sources.apply(FlowCreated(event_id="4", revision=1, time=at(12), source=source, **later))
    assert [t.flow_id for t in index.targets_at("main", at(12, 30))] == ["later"]
    sources.apply(FlowDeleted(event_id="3", revision=2, time=at(13), **common))
    assert index.revision_at("main", "company.team", "downstream", at(14)) is None


# --- validation -------------------------------------------------------------------------


def problems_of(trigger_yaml: str) -> list[tuple[int | None, str, str]]:
    source = f"""id: f
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
{trigger_yaml}"""
    result = validate_flow(source, REGISTRY)
    assert isinstance(result, list), "expected validation problems"
    return [(p.line, p.path, p.message) for p in result]


def test_kestra_flow_trigger_examples_validate() -> None:
    source = """id: silver_layer
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: flow_trigger
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      date: "{{ trigger.outputs.date }}"
    preconditions:
      id: bronze_layer
      timeWindow:
        type: DAILY_TIME_DEADLINE
        deadline: "09:00:00"
      flows:
        - namespace: company.team
          flowId: bronze_layer
          states: [SUCCESS]
  - id: alert_on_failure
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED, WARNING]
    preconditions:
      id: company_namespace
      where:
        - id: company
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: company
  - id: legacy
    type: io.kestra.core.models.triggers.types.Flow
    stopAfter: [FAILED]
    conditions:
      - type: io.kestra.core.models.conditions.types.ExecutionStatusCondition
        in: [SUCCESS]
"""
    assert not isinstance(validate_flow(source, REGISTRY), list)


def test_an_unknown_condition_type_is_refused_with_its_line_and_a_suggestion() -> None:
    found = problems_of("""  - id: f
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlw
        namespace: x
        flowId: y
""")
    assert found == [
        (
            11,
            "triggers[0].conditions[0].type",
            "unknown condition type 'io.kestra.plugin.core.condition.ExecutionFlw'; "
            "did you mean io.kestra.plugin.core.condition.ExecutionFlow?",
        )
    ]


def test_bad_durations_and_time_windows_are_refused_with_their_lines() -> None:
    found = problems_of("""  - id: f
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      flows:
        - namespace: company.team
      timeWindow:
        type: DURATION_WINDOW
        window: 1 hour
        deadline: "09:00:00"
  - id: g
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: q
      flows:
        - namespace: company.team
      timeWindow:
        type: DAILY_TIME_WINDOW
        startTime: "10:00:00"
""")
    messages = {(line, path): message for line, path, message in found}
    assert (
        "not an ISO-8601 duration" in messages[(16, "triggers[0].preconditions.timeWindow.window")]
    )
    assert messages[(17, "triggers[0].preconditions.timeWindow.deadline")] == (
        "a DURATION_WINDOW time window cannot have `deadline`"
    )
    assert messages[(24, "triggers[1].preconditions.timeWindow")] == (
        "a DAILY_TIME_WINDOW time window needs `endTime`"
    )


def test_bad_filters_and_states_are_refused() -> None:
    found = problems_of("""  - id: f
    type: io.kestra.plugin.core.trigger.Flow
    states: [CREATED]
    preconditions:
      id: p
      where:
        - id: w
          filters:
            - field: FLOW_ID
              type: IN
              value: a
            - field: FLOW_ID
              type: REGEX
              value: "a("
""")
    paths = {path for _, path, _ in found}
    assert paths == {
        "triggers[0].states",
        "triggers[0].preconditions.where[0].filters[0]",
        "triggers[0].preconditions.where[0].filters[1].value",
    }
    [(line, path, message)] = problems_of("""  - id: f
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      where:
        - id: w
          filters:
            - field: NAMESPACE
              type: SOUNDS_LIKE
              value: a
""")
    assert (line, path) == (16, "triggers[0].preconditions.where[0].filters[0].type")
    assert "SOUNDS_LIKE" in message


# --- the agents' retry of a failed step -------------------------------------------------


def test_a_failed_step_is_tried_again_then_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from streams.triggers import flow_agent

    monkeypatch.setattr(flow_agent, "RETRY_DELAY_S", 0.0)
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("the broker did not answer")

    asyncio.run(flow_agent._retrying(flaky, "step", {}))
    assert len(calls) == 3

    async def broken() -> None:
        calls.append(1)
        raise RuntimeError("always")

    calls.clear()
    asyncio.run(flow_agent._retrying(broken, "step", {}))  # skipped, not raised
    assert len(calls) == flow_agent.STEP_ATTEMPTS
