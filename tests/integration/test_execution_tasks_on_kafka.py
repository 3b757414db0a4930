"""Execution tasks on the real path: a Kafka broker, executor and worker processes, and
Elasticsearch views fed by an indexer. One flow labels its execution, reads its own
logs back (log.Fetch), counts the executions of another flow (Count), resumes that
paused execution (Resume) and exits WARNING (Exit); Kestra's MAX_DURATION SLA flow
fails through the executor's timer."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import NotFoundError

from projections import mappings
from projections.store.client import SearchStore
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.stack import InProcessIndexer
from tests.integration.task_cluster import task_cluster
from tests.unit.core.kestra_scenarios import NAMESPACE as SCENARIO_NAMESPACE
from tests.unit.core.kestra_scenarios import SCENARIOS

NS = "it.exectasks"

PAUSE = f"""
id: waits
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed with {{{{ outputs.pause.onResume.approved }}}}"
"""

MAIN = f"""
id: main
namespace: {NS}
labels:
  team: data
inputs:
  - id: pausedId
    type: STRING
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      team: "{{{{ flow.namespace }}}}"
      run: "{{{{ taskrun.id }}}}"
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello from main
  - id: settle
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    tasksId:
      - hello
  - id: count
    type: io.kestra.plugin.core.execution.Count
    flows:
      - namespace: {NS}
        flowId: waits
      - namespace: {NS}
        flowId: nothing-here
    states:
      - PAUSED
    startDate: "{{{{ now() | dateAdd(-1, 'HOURS') }}}}"
    expression: "{{{{ count >= 1 }}}}"
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
    executionId: "{{{{ inputs.pausedId }}}}"
    inputs:
      approved: true
  - id: exit
    type: io.kestra.plugin.core.execution.Exit
    state: WARNING
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"""


@pytest.fixture(scope="module")
def setup(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode
) -> Iterator[tuple[Cluster, SearchStore, Path]]:
    prefix = f"exectasks{os.getpid()}"
    es = {"LANNER_ELASTICSEARCH_URL": es_node.url, "LANNER_INDEX_PREFIX": prefix}
    with task_cluster(kafka_broker.bootstrap, prefix, env=es) as cluster:
        settings = cluster.settings.model_copy(
            update={"elasticsearch_url": es_node.url, "index_prefix": prefix}
        )
        indexer = InProcessIndexer(settings).start()
        store = SearchStore(es_node.url, settings.full_index_prefix)
        try:
            yield cluster, store, Path(cluster.env["LANNER_STORAGE_DIR"])
        finally:
            indexer.stop()
            store.close()


def _view_state(store: SearchStore, execution_id: str) -> str | None:
    try:
        store.refresh(mappings.EXECUTIONS)
        doc = store.get(mappings.EXECUTIONS, execution_id)
    except NotFoundError:
        return None
    except Exception:  # the indexer has not created its views yet
        return None
    return None if doc is None else str(doc["state"]["current"])


def _wait_view(store: SearchStore, execution_id: str, state: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _view_state(store, execution_id) == state:
            return
        time.sleep(0.3)
    raise AssertionError(
        f"{execution_id} not {state} in the view: {_view_state(store, execution_id)}"
    )


def test_labels_fetch_count_resume_and_exit(setup: tuple[Cluster, SearchStore, Path]) -> None:
    cluster, store, storage = setup
    cluster.deploy(PAUSE)
    cluster.deploy(MAIN)
    paused = cluster.create(NS, "waits").execution_id
    _wait_view(store, paused, "PAUSED")

    main = cluster.run(NS, "main", {"pausedId": paused}, timeout_s=120)
    runs = {r.task_id: r for r in main.task_runs.values()}
    assert main.state == State.WARNING, {k: (r.state, r.error) for k, r in runs.items()}
    assert "never" not in runs and runs["exit"].state == State.WARNING

    # Labels: in the execution, and in the view (through the event).
    assert main.labels["team"] == NS and main.labels["run"] == runs["labels"].id
    _wait_view(store, main.id, "WARNING")
    doc = store.get(mappings.EXECUTIONS, main.id)
    assert doc is not None
    assert {"key": "run", "value": runs["labels"].id} in doc["labels"]

    # Fetch: the one line of `hello`, in a file in internal storage.
    fetched = runs["fetch"].outputs
    assert fetched["size"] == 1, fetched
    text = LocalStorage(storage).get_bytes(fetched["uri"]).decode()
    assert [json.loads(line)["message"] for line in text.splitlines()] == ["hello from main"]

    # Count: the paused execution (and the flow without any is dropped by the expression).
    assert runs["count"].outputs == {
        "results": [{"namespace": NS, "flowId": "waits", "count": 1}],
        "total": 1,
    }

    # Resume: the other execution carries on, with the inputs it was given.
    resumed = cluster.wait_for_end(paused, 60)
    assert resumed.state == State.SUCCESS
    messages = [line["message"] for line in cluster.logs_of(paused)]
    assert "resumed with true" in messages, messages


def test_a_max_duration_sla_fails_an_execution_through_the_timer(
    setup: tuple[Cluster, SearchStore, Path],
) -> None:
    cluster, _, _ = setup
    source = SCENARIOS["sla-max-duration-fail"].replace(SCENARIO_NAMESPACE, NS)
    cluster.deploy(source)
    ended = cluster.run(NS, "sla-max-duration-fail", timeout_s=60)
    assert ended.state == State.FAILED
    assert "SLA 'maxDuration' violated" in (ended.error or "")
    (sleep,) = [r for r in ended.task_runs.values() if r.task_id == "sleep"]
    assert sleep.state == State.KILLED


PURGER = f"""
id: purger
namespace: {NS}
tasks:
  - id: logs
    type: io.kestra.plugin.core.log.PurgeLogs
    namespace: {NS}
    flowId: main
    endDate: "{{{{ now() }}}}"
  - id: executions
    type: io.kestra.plugin.core.execution.PurgeExecutions
    namespace: {NS}
    flowId: waits
    states:
      - SUCCESS
    endDate: "{{{{ now() }}}}"
"""


def test_purges_take_executions_and_logs_out_of_the_views(
    setup: tuple[Cluster, SearchStore, Path],
) -> None:
    cluster, store, _ = setup
    main_logs = {"term": {"flowId": "main"}}
    store.refresh(mappings.LOGS)
    assert store.count(mappings.LOGS, main_logs) >= 1  # the first test's lines
    waits = {"bool": {"filter": [{"term": {"flowId": "waits"}}, {"term": {"namespace": NS}}]}}
    before = store.count(mappings.EXECUTIONS, waits)
    assert before >= 1
    cluster.deploy(PURGER)
    ended = cluster.run(NS, "purger", timeout_s=60)
    runs = {r.task_id: r for r in ended.task_runs.values()}
    assert ended.state == State.SUCCESS, {k: r.error for k, r in runs.items()}
    assert runs["logs"].outputs["count"] >= 1
    assert runs["executions"].outputs["executionsCount"] == before
    store.refresh(mappings.LOGS)
    store.refresh(mappings.EXECUTIONS)
    assert store.count(mappings.LOGS, main_logs) == 0
    assert store.count(mappings.EXECUTIONS, waits) == 0
