"""Kestra's helper libraries inside script tasks on the real path (API -> Kafka -> Faust
-> Elasticsearch): a Python and a Node.js task report outputs and metrics, which land
on the task runs' events, in the metrics view, behind /api/v1/metrics/... and on
/metrics for Prometheus. Bad input: an unreadable `::{...}::` line, node missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.plugin_stack import plugin_stack
from tests.integration.stack import Stack, wait_for

pytestmark = pytest.mark.integration

NS = "it.scripts"

# As Kestra's docs write a Python task that reports through the `kestra` package, and a
# Node.js one through `@kestra-io/libs`; neither installs anything.
METRICS_FLOW = f"""
id: python_metrics
namespace: {NS}
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.python.Script
    script: |
      from kestra import Kestra
      rows = [{{"id": i}} for i in range(10)]
      Kestra.outputs({{"count": len(rows)}})
      Kestra.counter("rows", len(rows), {{"source": "api"}})
      Kestra.timer("extract_duration", 0.25)
      Kestra.logger().info("extracted %d rows", len(rows))
  - id: transform
    type: io.kestra.plugin.scripts.node.Script
    script: |
      const Kestra = require("@kestra-io/libs");
      const n = {{{{ outputs.extract.vars.count }}}};
      Kestra.counter("rows", n * 2, {{ stage: "transform" }});
      Kestra.outputs({{ doubled: n * 2 }});
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "doubled {{{{ outputs.transform.vars.doubled }}}}"
"""

BAD_FLOW = f"""
id: bad_scripts
namespace: {NS}
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: malformed
        type: io.kestra.plugin.scripts.python.Script
        script: |
          print("before")
          print('::{{"outputs": {{"a": 1,}}}}::')
      - id: no_node
        type: io.kestra.plugin.scripts.node.Commands
        env:
          PATH: /nonexistent
        commands:
          - node main.js
"""


@pytest.fixture(scope="module")
def stack(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with plugin_stack(kafka_broker, es_node, tmp_path_factory.mktemp("scripts")) as the_stack:
        yield the_stack


def deploy(stack: Stack, source: str) -> None:
    """Deploys a flow; on a busy machine the API may answer before the view has it (202)."""
    response = stack.http.post(
        "/flows", content=source, headers={"content-type": "application/x-yaml"}
    )
    assert response.status_code in (200, 202), response.text


def _get(stack: Stack, path: str, **params: Any) -> Any:
    response = stack.http.get(path, params=params)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def test_kestra_libraries_report_outputs_and_metrics_served_by_the_api(stack: Stack) -> None:
    deploy(stack, METRICS_FLOW)
    execution = stack.until_ended(stack.run(NS, "python_metrics")["id"], 120)
    assert execution["state"]["current"] == "SUCCESS", execution
    runs = {r["taskId"]: r for r in execution["taskRunList"]}
    assert runs["extract"]["outputs"]["vars"] == {"count": 10}
    assert runs["transform"]["outputs"]["vars"] == {"doubled": 20}
    eid = execution["id"]
    logs = _get(stack, f"/logs/{eid}")
    assert any(line["message"].endswith("extracted 10 rows") for line in logs)
    assert any(line["message"] == "doubled 20" for line in logs)

    page = _get(stack, f"/metrics/{eid}", sort="taskId:asc,name:asc")
    assert page["total"] == 3
    shown = [
        (m["taskId"], m["name"], m["type"], m["value"], m["tags"], m["taskRunId"])
        for m in page["results"]
    ]
    assert shown == [
        ("extract", "extract_duration", "timer", 250.0, {}, runs["extract"]["id"]),
        ("extract", "rows", "counter", 10.0, {"source": "api"}, runs["extract"]["id"]),
        ("transform", "rows", "counter", 20.0, {"stage": "transform"}, runs["transform"]["id"]),
    ]
    assert all(m["namespace"] == NS and m["flowId"] == "python_metrics" for m in page["results"])
    only = _get(stack, f"/metrics/{eid}", taskRunId=runs["transform"]["id"])
    assert [m["taskId"] for m in only["results"]] == ["transform"]
    assert _get(stack, f"/metrics/{eid}", taskId="extract", size=1)["total"] == 2

    assert _get(stack, f"/metrics/names/{NS}/python_metrics") == ["extract_duration", "rows"]
    assert _get(stack, f"/metrics/names/{NS}/python_metrics/transform") == ["rows"]
    assert _get(stack, f"/metrics/tasks/{NS}/python_metrics") == ["extract", "transform"]
    summed = _get(stack, f"/metrics/aggregates/{NS}/python_metrics/rows")
    assert summed["groupBy"] == "day"  # the default 30 days, grouped as Kestra does
    assert sum(a["value"] or 0 for a in summed["aggregations"]) == 30.0
    assert {a["name"] for a in summed["aggregations"]} == {"rows"}
    biggest = _get(
        stack, f"/metrics/aggregates/{NS}/python_metrics/transform/rows", aggregation="max"
    )
    assert max(a["value"] or 0 for a in biggest["aggregations"]) == 20.0

    exported = stack.http.get("/metrics").text
    labels = f'namespace="{NS}",flow_id="python_metrics"'
    assert f'lanner_task_counter_total{{{labels},task_id="extract",metric="rows"}} 10.0' in exported
    assert (
        f'lanner_task_counter_total{{{labels},task_id="transform",metric="rows"}} 20.0' in exported
    )
    timer = f'{{{labels},task_id="extract",metric="extract_duration"}}'
    assert f"lanner_task_timer_seconds_sum{timer} 0.25" in exported
    assert f"lanner_task_timer_seconds_count{timer} 1" in exported


def test_bad_metric_queries_are_refused_naming_what_is_wrong(stack: Stack) -> None:
    missing = stack.http.get("/metrics/no-such-execution")
    assert missing.status_code == 404
    assert "execution no-such-execution" in missing.json()["message"]
    bad = stack.http.get(
        f"/metrics/aggregates/{NS}/python_metrics/rows", params={"aggregation": "median"}
    )
    assert bad.status_code == 422, bad.text
    assert "aggregation" in bad.text
    backwards = stack.http.get(
        f"/metrics/aggregates/{NS}/python_metrics/rows",
        params={"startDate": "2026-02-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 422 and "startDate" in backwards.text


def test_a_malformed_protocol_line_and_a_missing_node_fail_their_runs(stack: Stack) -> None:
    deploy(stack, BAD_FLOW)
    execution = stack.until_ended(stack.run(NS, "bad_scripts")["id"], 120)
    assert execution["state"]["current"] == "FAILED"
    states = {r["taskId"]: r["state"]["current"] for r in execution["taskRunList"]}
    assert states["malformed"] == "FAILED" and states["no_node"] == "FAILED"

    def errors() -> list[str] | None:
        lines = _get(stack, f"/logs/{execution['id']}", minLevel="ERROR")
        found = [f"{line['taskId']}: {line['message']}" for line in lines]
        tasks = {line["taskId"] for line in lines}
        return found if {"malformed", "no_node"} <= tasks else None

    found = wait_for(errors, 30, "the error lines")
    assert any(
        line.startswith("malformed: task malformed: unreadable ::{...}:: line 2 of stdout")
        and "not valid JSON" in line
        for line in found
    ), found
    assert any(
        line.startswith("no_node: task no_node: node was not found on this worker's PATH")
        for line in found
    ), found
