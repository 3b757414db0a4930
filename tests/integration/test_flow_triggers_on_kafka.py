"""Flow triggers on the real broker: a flow starts when other flows' executions end.

Conditions fire once per matching upstream execution with its outputs as inputs;
preconditions join two upstream flows inside a window, and their join state survives a
SIGKILLed scheduler; `stopAfter` disables a trigger whose execution failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from schemas.events import EXECUTION_EVENT_ADAPTER
from schemas.execution import Execution
from schemas.states import State
from schemas.triggers import (
    TRIGGER_EVENT_ADAPTER,
    TriggerDisabled,
    TriggerEvent,
    TriggerFailed,
    TriggerFired,
)
from streams.core.evolve import evolve
from streams.log.admin import wait_group_consuming
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.noida import NoidaServer
from tests.integration.cluster import Cluster, wait_until

NS = "company.ft"

EXTRACT = f"""
id: extract
namespace: {NS}
inputs:
  - id: day
    type: INT
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: when
    type: io.kestra.plugin.core.debug.Return
    format: "2026-01-0{{{{ inputs.day }}}}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.fail }}}}"
outputs:
  - id: date
    type: STRING
    value: "{{{{ outputs.when.value }}}}"
"""

TRANSFORM = f"""
id: transform
namespace: {NS}
inputs:
  - id: date
    type: STRING
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.date }}}} from {{{{ trigger.executionId }}}} ({{{{ trigger.state }}}})"
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      date: "{{{{ trigger.outputs.date }}}}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: extract
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"""


# Its input wants a number; the upstream date is not one: the trigger fails, visibly.
STRICT = f"""
id: strict
namespace: {NS}
inputs:
  - id: count
    type: INT
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.count }}}}"
triggers:
  - id: wants_a_number
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      count: "{{{{ trigger.outputs.date }}}}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: extract
"""


def _upstream(flow_id: str) -> str:
    return f"""
id: {flow_id}
namespace: {NS}
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: work
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.fail }}}}"
"""


JOINED = f"""
id: joined
namespace: {NS}
tasks:
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "after {{{{ trigger.flowId }}}} {{{{ trigger.executionId }}}}"
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: both_done
      timeWindow:
        type: DURATION_WINDOW
        window: P1D
      flows:
        - namespace: {NS}
          flowId: up_a
          states: [SUCCESS]
        - namespace: {NS}
          flowId: up_b
          states: [SUCCESS]
"""


def _cluster_with_scheduler(bootstrap: str) -> Iterator[Cluster]:
    cluster = Cluster(bootstrap, f"ft{os.getpid()}{time.monotonic_ns() % 10**6}")
    try:
        cluster.start_executor_and_worker()
        cluster.start("scheduler")
        wait_group_consuming(
            cluster.settings.kafka_bootstrap,
            f"{cluster.settings.full_topic_prefix}scheduler",
            cluster.topics.execution_events,
            90,
        )
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    yield from _cluster_with_scheduler(kafka_broker.bootstrap)


@pytest.fixture
def local_cluster(noida: NoidaServer) -> Iterator[Cluster]:
    yield from _cluster_with_scheduler(noida.bootstrap)


def _runs_of(cluster: Cluster, flow_id: str) -> dict[str, Execution]:
    states: dict[str, Execution] = {}
    for record in cluster.records(cluster.topics.execution_events):
        event = EXECUTION_EVENT_ADAPTER.validate_json(record.value)
        if event.flow_id != flow_id:
            continue
        current = states.get(event.execution_id)
        if current is None or event.seq > current.seq:
            states[event.execution_id] = evolve(current, event)
    return states


def _ended(cluster: Cluster, flow_id: str) -> list[Execution]:
    return [r for r in _runs_of(cluster, flow_id).values() if r.state.is_terminal]


def _trigger_events(cluster: Cluster) -> list[TriggerEvent]:
    return [
        TRIGGER_EVENT_ADAPTER.validate_json(r.value)
        for r in cluster.records(cluster.topics.trigger_events)
    ]


BAD_TRIGGER = f"""
id: bad_trigger
namespace: {NS}
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatu
        in: [SUCCESS]
    preconditions:
      id: p
      flows:
        - namespace: {NS}
      timeWindow:
        type: SLIDING_WINDOW
        window: 2 days
"""


def test_a_flow_trigger_with_conditions_fires_once_per_matching_execution(
    cluster: Cluster,
) -> None:
    refused = cluster.flows.deploy(BAD_TRIGGER, actor="tests")
    assert isinstance(refused, list)
    assert {(p.line, p.path) for p in refused} == {
        (12, "triggers[0].conditions[0].type"),
        (20, "triggers[0].preconditions.timeWindow.window"),
    }
    assert "did you mean io.kestra.plugin.core.condition.ExecutionStatus?" in str(refused)
    cluster.deploy(EXTRACT)
    cluster.deploy(TRANSFORM)
    cluster.deploy(STRICT)
    first = cluster.run(NS, "extract", {"day": 1})
    failed = cluster.run(NS, "extract", {"day": 2, "fail": True})
    second = cluster.run(NS, "extract", {"day": 3})
    assert (first.state, failed.state, second.state) == (
        State.SUCCESS,
        State.FAILED,
        State.SUCCESS,
    )

    wait_until(lambda: len(_ended(cluster, "transform")) >= 2, 120, "two transform executions")
    time.sleep(3)  # a third (for the failed upstream, or a double fire) would show by now
    runs = _ended(cluster, "transform")
    assert len(runs) == 2, [r.trigger for r in runs]
    by_upstream = {str((r.trigger or {})["executionId"]): r for r in runs}
    assert set(by_upstream) == {first.id, second.id}
    for upstream, day in ((first, 1), (second, 3)):
        run = by_upstream[upstream.id]
        assert run.state is State.SUCCESS
        assert run.inputs == {"date": f"2026-01-0{day}"}
        assert run.trigger is not None
        assert run.trigger["flowId"] == "extract"
        assert run.trigger["namespace"] == NS
        assert run.trigger["state"] == "SUCCESS"
        assert run.trigger["outputs"] == {"date": f"2026-01-0{day}"}
        echo = next(t for t in run.task_runs.values() if t.task_id == "echo")
        assert echo.outputs["value"] == f"2026-01-0{day} from {upstream.id} (SUCCESS)"
    fired = [e for e in _trigger_events(cluster) if isinstance(e, TriggerFired)]
    assert {e.execution_id for e in fired} == {r.id for r in runs}
    assert all(e.trigger_id == "after_extract" and e.flow_id == "transform" for e in fired)
    assert {e.source["executions"][0]["executionId"] for e in fired} == {first.id, second.id}
    failures = [
        e
        for e in _trigger_events(cluster)
        if isinstance(e, TriggerFailed) and e.flow_id == "strict"
    ]
    assert len(failures) >= 3  # one per extract execution (all states are listened to)
    assert all("count" in e.error and e.trigger_id == "wants_a_number" for e in failures)
    assert _runs_of(cluster, "strict") == {}


def test_preconditions_join_two_flows_in_a_window_and_ignore_a_failure(cluster: Cluster) -> None:
    for flow_id in ("up_a", "up_b"):
        cluster.deploy(_upstream(flow_id))
    cluster.deploy(JOINED)

    assert cluster.run(NS, "up_a").state is State.SUCCESS
    assert cluster.run(NS, "up_b", {"fail": True}).state is State.FAILED
    time.sleep(4)  # the failed up_b must not complete the join
    assert _runs_of(cluster, "joined") == {}

    last = cluster.run(NS, "up_b")
    wait_until(lambda: len(_ended(cluster, "joined")) >= 1, 120, "the joined execution")
    time.sleep(3)
    runs = _ended(cluster, "joined")
    assert len(runs) == 1
    assert runs[0].state is State.SUCCESS
    assert runs[0].trigger is not None and runs[0].trigger["executionId"] == last.id

    # Reset on success: up_a alone does not fire again; up_a then up_b does.
    cluster.run(NS, "up_a")
    time.sleep(3)
    assert len(_runs_of(cluster, "joined")) == 1
    cluster.run(NS, "up_b")
    wait_until(lambda: len(_ended(cluster, "joined")) >= 2, 120, "the second joined execution")


def _join_recorded(cluster: Cluster) -> bool:
    changelog = f"{cluster.settings.full_topic_prefix}scheduler-flow-trigger-joins-changelog"
    try:
        return any(r.key and r.key.endswith("/joined/both") for r in cluster.records(changelog))
    except Exception:  # the changelog topic may not exist yet
        return False


def test_the_join_state_survives_a_scheduler_kill_between_the_two_ends(cluster: Cluster) -> None:
    for flow_id in ("up_a", "up_b"):
        cluster.deploy(_upstream(flow_id))
    cluster.deploy(JOINED)

    assert cluster.run(NS, "up_a").state is State.SUCCESS
    wait_until(lambda: _join_recorded(cluster), 120, "the join state on the changelog")
    cluster.kill("scheduler")

    last = cluster.run(NS, "up_b")  # ends while no scheduler runs
    time.sleep(1)
    assert _runs_of(cluster, "joined") == {}

    cluster.start("scheduler")
    wait_until(lambda: len(_ended(cluster, "joined")) >= 1, 120, "the joined execution")
    time.sleep(5)  # a double fire would show by now
    runs = _ended(cluster, "joined")
    assert len(runs) == 1, "fired twice"
    assert runs[0].trigger is not None and runs[0].trigger["executionId"] == last.id
    fired = {
        e.execution_id
        for e in _trigger_events(cluster)
        if isinstance(e, TriggerFired) and e.flow_id == "joined"
    }
    assert fired == {runs[0].id}


STOP_AFTER = f"""
id: failing_schedule
namespace: {NS}
triggers:
  - id: every_two_seconds
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/2 * * * * *"
    withSeconds: true
    stopAfter: [FAILED]
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"""


def test_stop_after_disables_the_trigger_when_its_execution_fails(cluster: Cluster) -> None:
    cluster.deploy(STOP_AFTER)

    def disabled() -> list[TriggerDisabled]:
        return [
            e
            for e in _trigger_events(cluster)
            if isinstance(e, TriggerDisabled) and e.flow_id == "failing_schedule"
        ]

    wait_until(lambda: bool(disabled()), 120, "TriggerDisabled from stopAfter")
    event = disabled()[0]
    assert event.trigger_id == "every_two_seconds"
    assert event.reason == "stopAfter: FAILED"
    failed = [r for r in _ended(cluster, "failing_schedule") if r.state is State.FAILED]
    assert failed, "the trigger was disabled without a failed execution"


FRAGILE = f"""
id: fragile
namespace: {NS}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
triggers:
  - id: after_source
    type: io.kestra.plugin.core.trigger.Flow
    stopAfter: [FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: source
"""


def test_a_flow_trigger_stopped_after_a_failure_fires_no_more(cluster: Cluster) -> None:
    cluster.deploy(_upstream("source"))
    cluster.deploy(FRAGILE)
    cluster.run(NS, "source")
    wait_until(lambda: len(_ended(cluster, "fragile")) == 1, 120, "the fragile execution")
    assert _ended(cluster, "fragile")[0].state is State.FAILED

    def disabled() -> list[TriggerDisabled]:
        return [
            e
            for e in _trigger_events(cluster)
            if isinstance(e, TriggerDisabled) and e.flow_id == "fragile"
        ]

    wait_until(lambda: bool(disabled()), 120, "TriggerDisabled from stopAfter")
    assert (disabled()[0].trigger_id, disabled()[0].reason) == ("after_source", "stopAfter: FAILED")
    time.sleep(1)  # the scheduler's trigger states follow the log
    cluster.run(NS, "source")
    time.sleep(4)
    assert len(_runs_of(cluster, "fragile")) == 1


def test_flow_triggers_on_the_local_default_embedded_server(local_cluster: Cluster) -> None:
    """The same path on noida-db, which `lanner server local` runs."""
    cluster = local_cluster
    cluster.deploy(EXTRACT)
    cluster.deploy(TRANSFORM)
    for flow_id in ("up_a", "up_b"):
        cluster.deploy(_upstream(flow_id))
    cluster.deploy(JOINED)
    upstream = cluster.run(NS, "extract", {"day": 4})
    cluster.run(NS, "up_a")
    cluster.run(NS, "up_b")
    wait_until(lambda: len(_ended(cluster, "transform")) == 1, 120, "the transform execution")
    wait_until(lambda: len(_ended(cluster, "joined")) == 1, 120, "the joined execution")
    [transform] = _ended(cluster, "transform")
    assert transform.inputs == {"date": "2026-01-04"}
    assert transform.trigger is not None and transform.trigger["executionId"] == upstream.id


WITH_PAUSE = f"""
id: with_pause
namespace: {NS}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.5S
  - id: hello_again
    type: io.kestra.plugin.core.log.Log
    message: again
"""

LISTENS_TO_STATES = f"""
id: listens_to_states
namespace: {NS}
outputs:
  - id: status
    type: STRING
    value: "{{{{ trigger.state }}}}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.executionId }}}} is {{{{ trigger.state }}}}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: with_pause
"""


def test_a_flow_trigger_listening_to_running_and_paused_fires_at_each_change(
    cluster: Cluster,
) -> None:
    """Kestra's FlowTriggerCaseTest.triggerWithPause: RUNNING, PAUSED, RUNNING, SUCCESS."""
    cluster.deploy(WITH_PAUSE)
    cluster.deploy(LISTENS_TO_STATES)
    assert cluster.run(NS, "with_pause").state is State.SUCCESS
    wait_until(lambda: len(_ended(cluster, "listens_to_states")) >= 4, 120, "four listeners")
    time.sleep(2)
    # In the order the trigger fired (its events share one partition): `created` is when
    # the executor took each request, and the four requests go to different partitions.
    fired = [
        e.execution_id
        for e in _trigger_events(cluster)
        if isinstance(e, TriggerFired) and e.flow_id == "listens_to_states"
    ]
    runs = sorted(_ended(cluster, "listens_to_states"), key=lambda r: fired.index(r.id))
    assert [r.outputs["status"] for r in runs] == ["RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
