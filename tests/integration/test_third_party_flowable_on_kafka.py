"""A flowable from a third-party package through the real path: its `lanner.plugins`
entry point is registered for the test process (which deploys) and for the executor and
worker processes (which load it themselves), on a real Kafka broker."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster
from tests.third_party.example_flowables import ENTRY_POINTS

NS = "it.thirdparty"


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    prefix = f"thirdparty{os.getpid()}"
    with task_cluster(
        kafka_broker.bootstrap, prefix, worker_threads=2, plugins=ENTRY_POINTS
    ) as cluster:
        yield cluster


# A worker task inside the loop too: each round's runs are dispatched and reported.
TWICE = f"""
id: twice
namespace: {NS}
tasks:
  - id: rounds
    type: com.example.Twice
    tasks:
      - id: shell
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo round {{{{ taskrun.iteration }}}}
      - id: hello
        type: io.kestra.plugin.core.debug.Return
        format: "round {{{{ taskrun.iteration }}}}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.rounds.rounds }}}} rounds, last {{{{ outputs.hello.value }}}}"
"""


def test_a_third_party_flowable_runs_to_success_on_the_broker(cluster: Cluster) -> None:
    cluster.deploy(TWICE)
    execution = cluster.run(NS, "twice", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = list(execution.task_runs.values())
    rounds = next(r for r in runs if r.task_id == "rounds")
    assert rounds.state == State.SUCCESS
    assert rounds.decision == {"rounds": [1, 2]}
    assert rounds.outputs == {"rounds": 2}
    for task_id in ("shell", "hello"):
        mine = sorted((r for r in runs if r.task_id == task_id), key=lambda r: r.iteration or 0)
        assert [(r.iteration, r.state) for r in mine] == [
            (1, State.SUCCESS),
            (2, State.SUCCESS),
        ], task_id
    hello = sorted((r for r in runs if r.task_id == "hello"), key=lambda r: r.iteration or 0)
    assert [r.outputs for r in hello] == [{"value": "round 1"}, {"value": "round 2"}]
    after = next(r for r in runs if r.task_id == "after")
    assert after.outputs == {"value": "2 rounds, last round 2"}
    # Round 2 started only after round 1 ended (one round at a time).
    shell = sorted((r for r in runs if r.task_id == "shell"), key=lambda r: r.iteration or 0)
    first_end = max(
        h.date
        for r in runs
        if r.task_id in ("shell", "hello") and r.iteration == 1
        for h in r.history
    )
    assert shell[1].history[0].date >= first_end


def test_a_flowable_without_the_protocol_is_refused_when_deployed(cluster: Cluster) -> None:
    source = f"""
id: old
namespace: {NS}
tasks:
  - id: wrapper
    type: com.example.OnlyMainSpecs
    tasks:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: hi
"""
    problems = cluster.flows.deploy(source, actor="tests")
    assert isinstance(problems, list)
    assert [p.path for p in problems] == ["tasks[0].type"]
    assert "com.example.OnlyMainSpecs" in problems[0].message
    assert "does not implement the flowable protocol" in problems[0].message
