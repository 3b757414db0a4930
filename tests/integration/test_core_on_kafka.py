"""Flows in, executions out, on a real Apache Kafka broker with real Faust processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.states import State
from streams.log.admin import ensure_topics
from streams.log.producer import LogProducer
from streams.writers.executions import InvalidInputs
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import REPO, Cluster, distinct_history

SLEEPY = """
id: sleepy
namespace: company.team
inputs:
  - id: duration
    type: STRING
    defaults: PT0.1S
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ inputs.duration }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "slept {{ inputs.duration }}"
"""

TYPED = """
id: typed_inputs
namespace: company.team
inputs:
  - id: count
    type: INT
    min: 1
  - id: when
    type: DATETIME
    required: false
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.count + 1 }}"
"""

PAUSED = """
id: approval
namespace: company.team
tasks:
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
  - id: approved
    type: io.kestra.plugin.core.log.Log
    message: approved
  - id: short_pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.5S
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: done
"""


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    prefix = f"core{os.getpid()}"
    cluster = Cluster(kafka_broker.bootstrap, prefix)
    try:
        cluster.start_executor_and_worker()
        for name in (
            "hello_world.yml",
            "fan_out.yml",
            "error_branch.yml",
            "subflow_child.yml",
            "subflow_parent.yml",
        ):
            cluster.deploy_file(name)
        for source in (SLEEPY, TYPED, PAUSED):
            cluster.deploy(source)
        yield cluster
    finally:
        cluster.close()


def test_hello_world_succeeds_with_outputs_and_logs(cluster: Cluster) -> None:
    execution = cluster.run("company.team", "hello_world", {"user": "Ada"})
    assert execution.state == State.SUCCESS
    assert execution.outputs == {"greeting": "HELLO ADA"}
    assert [r.task_id for r in execution.task_runs.values()] == ["greet", "shout"]
    logs = cluster.logs_of(execution.id)
    assert [line["message"] for line in logs] == ["Hello, Ada!"]


def test_history_is_gapless_ordered_and_folds_to_the_final_state(cluster: Cluster) -> None:
    execution = cluster.run("company.team", "fan_out")
    assert execution.state == State.SUCCESS
    history = list(distinct_history(cluster.events_of(execution.id)))
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[0].type == "ExecutionCreated" and history[-1].type == "ExecutionSucceeded"
    values = sorted(r.value for r in execution.task_runs.values() if r.task_id == "sales")
    assert values == ["amer", "apac", "emea"]
    # The worker really ran the Sleep tasks: each has an attempt picked up by a worker.
    sleeps = [r for r in execution.task_runs.values() if r.task_id == "pause_a_little"]
    assert len(sleeps) == 3 and all(r.attempts[-1].worker_id for r in sleeps)


def test_errors_branch_and_finally_run_and_the_execution_fails(cluster: Cluster) -> None:
    execution = cluster.run("company.team", "error_branch")
    states = {r.task_id: r.state for r in execution.task_runs.values()}
    assert execution.state == State.FAILED
    assert states == {
        "tolerated": State.WARNING,
        "flaky": State.FAILED,
        "check": State.FAILED,
        "alert": State.SUCCESS,
        "cleanup": State.SUCCESS,
    }
    assert execution.error == "failing on purpose (input fail=true)"
    passing = cluster.run("company.team", "error_branch", {"fail": "false"})
    assert passing.state == State.WARNING  # AllowFailure's WARNING carries up


def test_subflow_runs_the_child_and_returns_its_outputs(cluster: Cluster) -> None:
    parent = cluster.run("company.team", "subflow_parent")
    assert parent.state == State.SUCCESS, parent.error
    assert parent.outputs == {"answer": 42}
    call = next(r for r in parent.task_runs.values() if r.task_id == "call_child")
    child = cluster.wait_for_end(str(call.child_execution_id))
    assert child.parent is not None and child.parent.execution_id == parent.id
    assert child.correlation_id == parent.correlation_id


def test_inputs_of_the_wrong_type_are_refused_before_creation(cluster: Cluster) -> None:
    before = len(cluster.records(cluster.topics.commands))
    with pytest.raises(InvalidInputs) as refused:
        cluster.create("company.team", "typed_inputs", {"count": "many", "when": "yesterday"})
    assert any("input 'count'" in e for e in refused.value.errors)
    assert any("input 'when'" in e for e in refused.value.errors)
    with pytest.raises(InvalidInputs, match=r"input 'count'.*below the minimum"):
        cluster.create("company.team", "typed_inputs", {"count": 0})
    assert len(cluster.records(cluster.topics.commands)) == before
    ok = cluster.run("company.team", "typed_inputs", {"count": "41"})
    assert (
        ok.outputs == {}
        and ok.task_runs
        and next(iter(ok.task_runs.values())).outputs == {"value": 42}
    )


def test_a_task_that_raises_fails_its_task_run_not_the_executor(cluster: Cluster) -> None:
    broken = cluster.run("company.team", "sleepy", {"duration": "soon"})
    assert broken.state == State.FAILED
    nap = next(r for r in broken.task_runs.values() if r.task_id == "nap")
    assert nap.state == State.FAILED and "not an ISO-8601 duration" in (nap.error or "")
    assert any("not an ISO-8601 duration" in line["message"] for line in cluster.logs_of(broken.id))
    assert cluster.run("company.team", "sleepy").state == State.SUCCESS


def test_garbage_on_the_commands_topic_is_skipped(cluster: Cluster) -> None:
    for garbage in (b"not json", b'{"type": "CreateExecution"}', b"\x00\xff"):
        cluster.producer.send_and_wait(cluster.topics.commands, "garbage", garbage)
    cluster.producer.send_and_wait(cluster.topics.worker_results, "garbage", b"[1,2]")
    assert cluster.run("company.team", "hello_world").state == State.SUCCESS
    assert "skipping a malformed executor message" in cluster.log_of("executor")


def _wait_for_event(cluster: Cluster, execution_id: str, event_type: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(e.type == event_type for e in cluster.events_of(execution_id)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no {event_type} for execution {execution_id}")


def test_pause_waits_for_resume_then_a_timed_pause_resumes_itself(cluster: Cluster) -> None:
    requested = cluster.create("company.team", "approval")
    _wait_for_event(cluster, requested.execution_id, "ExecutionPaused")
    cluster.executions.resume(requested.execution_id, actor="tests")
    execution = cluster.wait_for_end(requested.execution_id)
    assert execution.state == State.SUCCESS
    history = list(distinct_history(cluster.events_of(requested.execution_id)))
    assert [e.type for e in history].count("ExecutionPaused") == 2
    resumed_by = [e.actor for e in history if e.type == "ExecutionResumed"]
    assert resumed_by == ["tests", "system"]  # the second pause was ended by its timer


def test_resuming_an_execution_that_is_not_paused_changes_nothing(cluster: Cluster) -> None:
    requested = cluster.create("company.team", "sleepy", {"duration": "PT1S"})
    _wait_for_event(cluster, requested.execution_id, "TaskRunRunning")
    command_id = cluster.executions.resume(requested.execution_id, actor="tests")
    execution = cluster.wait_for_end(requested.execution_id)
    assert execution.state == State.SUCCESS
    history = list(distinct_history(cluster.events_of(requested.execution_id)))
    assert not [e for e in history if e.causation_id == f"command:{command_id}"]


def test_kill_stops_a_running_execution(cluster: Cluster) -> None:
    requested = cluster.create("company.team", "sleepy", {"duration": "PT30S"})
    _wait_for_event(cluster, requested.execution_id, "TaskRunRunning")
    cluster.executions.kill(requested.execution_id, actor="tests")
    execution = cluster.wait_for_end(requested.execution_id)
    assert execution.state == State.KILLED
    assert all(r.state == State.KILLED for r in execution.task_runs.values())
    history = [e.type for e in distinct_history(cluster.events_of(requested.execution_id))]
    assert history[-2:] == ["TaskRunKilled", "ExecutionKilled"] and "ExecutionKilling" in history


def test_commands_land_on_the_partition_faust_uses_for_the_same_key(
    kafka_broker: KafkaBroker,
) -> None:
    topic = f"partitioning{os.getpid()}"
    ensure_topics(kafka_broker.bootstrap, [topic], partitions=8)
    faust_partitioner = DefaultPartitioner()
    with LogProducer(kafka_broker.bootstrap) as producer:
        for index in range(64):
            key = f"execution-{index}"
            partition, _ = producer.send_and_wait(topic, key, b"x")
            expected = faust_partitioner(key.encode(), list(range(8)), list(range(8)))
            assert partition == expected, key


def test_flow_test_command_on_the_real_broker(kafka_broker: KafkaBroker) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli.main",
            "flow",
            "test",
            "flows/subflow_parent.yml",
            "--flows",
            "flows",
            "--output",
            "json",
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["state"]["current"] == "SUCCESS"
    assert result["outputs"] == {"answer": 42}
    assert {"id", "namespace", "flowId", "taskRunList", "inputs"} <= set(result)
    assert {"id", "taskId", "parentTaskRunId", "value", "state", "attempts", "outputs"} <= set(
        result["taskRunList"][0]
    )


def test_flow_test_exit_codes(tmp_path: Path, kafka_broker: KafkaBroker) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap}
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("id: x\nnamespace: company.team\ntasks:\n  - id: a\n    type: log.Lg\n")
    done = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "flow", "test", str(invalid)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown task type 'log.Lg'" in done.stdout + done.stderr
    failing = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "flow", "test", "flows/error_branch.yml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert failing.returncode == 1, failing.stderr[-2000:]
