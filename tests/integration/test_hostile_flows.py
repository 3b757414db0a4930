"""Issue 16 on the real broker: hostile flows end FAILED naming the limit, while an
ordinary execution on the same partition still succeeds promptly.

One partition, so every execution below shares the executor's one input stream: on the
old code the CPU bomb alone stopped everything after it for good.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from schemas.commands import CreateExecution
from schemas.flow import FlowRef
from schemas.states import State
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.unit.core.helpers import nested_flow

NS = "company.team"
SECRET = "s3cr3t-value"

NORMAL = """
id: normal
namespace: company.team
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
"""


def _log_flow(flow_id: str, message: str) -> str:
    return f"""
id: {flow_id}
namespace: company.team
tasks:
  - id: bomb
    type: io.kestra.plugin.core.log.Log
    message: "{message}"
"""


# flow id -> (its source, what its failure must name)
BOMBS = {
    "cpu_bomb": (
        _log_flow("cpu_bomb", "{{ (((10**999)**999)**999) > 1 }}"),
        "a number larger than 65536 bits",
    ),
    "memory_bomb": (
        _log_flow("memory_bomb", "{{ 'a' | center(400000000) }}"),
        "LANNER_LIMITS_RENDER_BYTES=4194304",
    ),
    "loop_bomb": (
        _log_flow(
            "loop_bomb",
            "{% for a in range(100000) %}{% for b in range(100000) %}{{ b }}"
            "{% endfor %}{% endfor %}",
        ),
        "LANNER_LIMITS_RENDER_STEPS=100000",
    ),
    "wide_foreach": (
        """
id: wide_foreach
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 100000) }}"
    tasks:
      - id: leaf
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
""",
        "LANNER_LIMITS_FAN_OUT=1000",
    ),
}

SECRET_FILTERS = """
id: secret_filters
namespace: company.team
tasks:
  - id: shout
    type: io.kestra.plugin.core.log.Log
    message: "token {{ secret('X') | upper }}"
  - id: derived
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('X') | upper }}"
  - id: length
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('X') | length }}"
"""


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    cluster = Cluster(
        kafka_broker.bootstrap,
        f"hostile{os.getpid()}",
        partitions=1,
        env={
            "SECRET_X": base64.b64encode(SECRET.encode()).decode(),
            # The executor accepts deep flows sent with their source, so that the one
            # below reaches the walk (a flow stored before the limit existed would).
            "LANNER_LIMITS_NESTING_DEPTH": "1000",
        },
    )
    try:
        cluster.start_executor_and_worker()
        for source, _ in BOMBS.values():
            cluster.deploy(source)
        cluster.deploy(NORMAL)
        cluster.deploy(SECRET_FILTERS)
        yield cluster
    finally:
        cluster.close()


def _normal_latency(cluster: Cluster) -> float:
    """Seconds from the creation command to the end of an ordinary execution."""
    started = time.monotonic()
    execution = cluster.run(NS, "normal", timeout_s=60)
    assert execution.state == State.SUCCESS
    return time.monotonic() - started


def test_hostile_flows_fail_naming_their_limit_and_do_not_hold_the_partition(
    cluster: Cluster,
) -> None:
    quiet = min(_normal_latency(cluster) for _ in range(3))
    started = time.monotonic()
    hostile = {cluster.create(NS, flow_id).execution_id: flow_id for flow_id in BOMBS}
    # Right behind the bombs, on the same partition.
    normal = cluster.create(NS, "normal").execution_id
    ended = cluster.wait_for_all({normal}, timeout_s=60)
    behind = time.monotonic() - started
    assert ended[normal].state == State.SUCCESS
    ended = cluster.wait_for_all(set(hostile), timeout_s=60)
    for execution_id, flow_id in hostile.items():
        execution = ended[execution_id]
        assert execution.state == State.FAILED, flow_id
        errors = " | ".join(r.error or "" for r in execution.task_runs.values())
        assert BOMBS[flow_id][1] in errors, (flow_id, errors)
    print(
        f"\nordinary execution: {quiet * 1000:.0f} ms alone, {behind * 1000:.0f} ms behind "
        f"{len(hostile)} hostile executions on its partition"
    )
    # Generous: the bombs are refused within one render budget (2 s) each at most.
    assert behind < quiet + 4 * 2.0 + 5.0


def test_a_decision_that_raises_before_the_first_event_ends_failed_with_the_reason(
    cluster: Cluster,
) -> None:
    command = CreateExecution(
        command_id="deep-create",
        execution_id=f"deep{os.getpid()}",
        time=dt.datetime.now(dt.UTC),
        actor="tests",
        flow=FlowRef(tenant="main", namespace=NS, flow_id="deep", revision=1),
        flow_source=nested_flow(200, "deep"),
    )
    cluster.executions.send(command)
    execution = cluster.wait_for_end(command.execution_id, timeout_s=60)
    assert execution.state == State.FAILED
    # 200 levels are past LANNER_LIMITS_YAML_DEPTH: the executor cannot even read the
    # flow, and says so on a FAILED execution instead of losing it. (A flow that reads
    # but recurses past Python's stack in the walk ends FAILED with the RecursionError:
    # tests/unit/core/test_limits.py.)
    assert execution.error is not None and "deep revision 1" in execution.error
    assert [e.type for e in cluster.events_of(command.execution_id)][:2] == [
        "ExecutionCreated",
        "ExecutionFailed",
    ]
    assert cluster.run(NS, "normal").state == State.SUCCESS


def test_filters_on_a_secret_act_on_the_secret_and_stay_masked(cluster: Cluster) -> None:
    execution = cluster.run(NS, "secret_filters")
    assert execution.state == State.SUCCESS, execution.error
    outputs = {r.task_id: r.outputs for r in execution.task_runs.values()}
    # Too short to mask (as a 2-character secret would be): Masker's trade-off.
    assert outputs["length"] == {"value": len(SECRET)}
    assert outputs["derived"] == {"value": "******"}  # SECRET.upper(), masked
    # What a template made of a secret is masked whole, like the secret itself.
    messages = [line["message"] for line in cluster.logs_of(execution.id)]
    assert messages == ["******"], messages


def test_an_executor_busy_rendering_honours_sigterm_within_seconds(cluster: Cluster) -> None:
    """Issue 16, finding 10 (the executor's part). Last in this module: it stops the
    executor. Renders are bounded by the budget, so the executor returns to its event
    loop (where Faust handles SIGTERM) within one step's render budget."""
    bombs = [cluster.create(NS, "loop_bomb").execution_id for _ in range(6)]
    cluster.wait_for_end(bombs[0], timeout_s=60)  # the executor is on the next ones now
    proc = cluster.processes["executor"]
    started = time.monotonic()
    cluster.stop("executor", timeout_s=60)
    took = time.monotonic() - started
    print(f"\nexecutor busy rendering stopped {took:.1f} s after SIGTERM (exit {proc.returncode})")
    assert took < 15.0
