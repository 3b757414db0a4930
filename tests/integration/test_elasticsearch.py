"""The Elasticsearch tasks (streams/plugins/elasticsearch) through the real path: flows
deployed on the log, run by real executor and worker processes against the session's real
Elasticsearch node; what they wrote is read back with the client. And Kestra's "consume
from Kafka into Elasticsearch" flow, run unchanged but for the addresses."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch

from schemas.execution import Execution, TaskRun
from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.elasticsearch"


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    with task_cluster(kafka_broker.bootstrap, f"estasks{os.getpid()}") as cluster:
        yield cluster


@pytest.fixture
def es(es_node: ElasticsearchNode) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_node.url)
    yield client
    client.close()


def _runs(execution: Execution) -> dict[str, TaskRun]:
    return {r.task_id: r for r in execution.task_runs.values()}


def _lines(cluster: Cluster, uri: str) -> list[Any]:
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    return [json.loads(line) for line in storage.get_bytes(uri).decode().splitlines()]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_put_get_and_request(
    cluster: Cluster, es_node: ElasticsearchNode, es: Elasticsearch, unique_prefix: str
) -> None:
    index = f"{unique_prefix}-people"
    cluster.deploy(f"""
id: es_documents
namespace: {NS}
tasks:
  - id: put
    type: io.kestra.plugin.elasticsearch.Put
    connection:
      hosts: ["{es_node.url}"]
      headers: ["X-Opaque-Id: lanner-it"]
    index: {index}
    key: "ada"
    value:
      name: Ada Lovelace
      born: 1815
    refreshPolicy: WAIT_UNTIL
  - id: put_again
    type: io.kestra.plugin.elasticsearch.Put
    connection:
      hosts: ["{es_node.url}"]
    index: {index}
    key: "ada"
    value: '{{"name": "Ada King", "born": 1815}}'
    refreshPolicy: IMMEDIATE
  - id: put_new
    type: io.kestra.plugin.elasticsearch.Put
    connection:
      hosts: ["{es_node.url}"]
    index: {index}
    opType: CREATE
    value: {{name: "{{{{ execution.id }}}}", born: 1906}}
    refreshPolicy: IMMEDIATE
  - id: get
    type: io.kestra.plugin.elasticsearch.Get
    connection:
      hosts: ["{es_node.url}"]
    index: {index}
    key: ada
  - id: get_missing
    type: io.kestra.plugin.elasticsearch.Get
    connection:
      hosts: ["{es_node.url}"]
    index: {index}
    key: nobody
  - id: count
    type: io.kestra.plugin.elasticsearch.Request
    connection:
      hosts: ["{es_node.url}"]
    method: POST
    endpoint: "/{index}/_count"
    body:
      query:
        range:
          born: {{gte: 1800}}
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.get.row.name }}}} v{{{{ outputs.put_again.version }}}}"
""")
    execution = cluster.run(NS, "es_documents", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["put"].outputs == {"id": "ada", "result": "Created", "version": 1}
    assert runs["put_again"].outputs == {"id": "ada", "result": "Updated", "version": 2}
    new_id = runs["put_new"].outputs["id"]
    assert runs["put_new"].outputs["result"] == "Created"
    assert runs["get"].outputs == {"row": {"name": "Ada King", "born": 1815}}
    assert runs["get_missing"].outputs == {"row": None}
    assert runs["count"].outputs["status"] == 200
    assert runs["count"].outputs["response"]["count"] == 2
    assert es.get(index=index, id=new_id)["_source"] == {"name": execution.id, "born": 1906}
    assert any("Ada King v2" in line["message"] for line in cluster.logs_of(execution.id))


def test_bulk_load_search_and_scroll(
    cluster: Cluster, es_node: ElasticsearchNode, es: Elasticsearch, unique_prefix: str
) -> None:
    """Bulk from a bulk-API file (JSON lines), Load from rows in Ion (as Kestra writes
    them), then every fetchType of Search and a Scroll over pages of two."""
    index = f"{unique_prefix}-cities"
    bulk_lines = [
        {"index": {"_index": index, "_id": "paris"}},
        {"name": "Paris", "population": 2100000},
        {"create": {"_index": index, "_id": "lyon"}},
        {"name": "Lyon", "population": 520000},
        {"index": {"_index": index, "_id": "nice"}},
        {"name": "Nice", "population": 1},
        {"update": {"_index": index, "_id": "nice"}},
        {"population": 340000},
        {"index": {"_index": index, "_id": "gone"}},
        {"name": "Gone", "population": 0},
        {"delete": {"_index": index, "_id": "gone"}},
    ]
    printf = "\\n".join(json.dumps(line) for line in bulk_lines)
    cluster.deploy(f"""
id: es_load
namespace: {NS}
tasks:
  - id: write
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - |
        printf '{printf}\\n' > bulk.jsonl
        echo '{{id:"lille",name:"Lille",population:230000,founded:640}}' > rows.ion
        echo '{{id:"brest",name:"Brest",population:140000,founded:1240}}' >> rows.ion
    outputFiles: ["bulk.jsonl", "rows.ion"]
  - id: bulk
    type: io.kestra.plugin.elasticsearch.Bulk
    connection:
      hosts: ["{es_node.url}"]
    from: "{{{{ outputs.write.outputFiles['bulk.jsonl'] }}}}"
    chunk: 2
  - id: load
    type: io.kestra.plugin.elasticsearch.Load
    connection:
      hosts: ["{es_node.url}"]
    from: "{{{{ outputs.write.outputFiles['rows.ion'] }}}}"
    index: {index}
    idKey: id
  - id: refresh
    type: io.kestra.plugin.elasticsearch.Request
    connection:
      hosts: ["{es_node.url}"]
    method: POST
    endpoint: "/{index}/_refresh"
  - id: fetch
    type: io.kestra.plugin.elasticsearch.Search
    connection:
      hosts: ["{es_node.url}"]
    indexes: ["{index}"]
    request:
      query: {{range: {{population: {{gte: 200000}}}}}}
      sort: [{{population: desc}}]
  - id: fetch_one
    type: io.kestra.plugin.elasticsearch.Search
    connection:
      hosts: ["{es_node.url}"]
    indexes: ["{index}"]
    request: '{{"query": {{"term": {{"_id": "brest"}}}}}}'
    fetchType: FETCH_ONE
  - id: store
    type: io.kestra.plugin.elasticsearch.Search
    connection:
      hosts: ["{es_node.url}"]
    indexes: ["{index}"]
    request: {{size: 100, sort: [{{population: asc}}]}}
    fetchType: STORE
  - id: scroll
    type: io.kestra.plugin.elasticsearch.Scroll
    connection:
      hosts: ["{es_node.url}"]
    indexes: ["{index}"]
    request: {{size: 2, sort: [{{population: asc}}]}}
""")
    execution = cluster.run(NS, "es_load", timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["bulk"].outputs == {"size": 6}
    assert runs["load"].outputs == {"size": 2}
    assert es.get(index=index, id="nice")["_source"] == {"name": "Nice", "population": 340000}
    assert es.get(index=index, id="lille")["_source"] == {
        "name": "Lille",
        "population": 230000,
        "founded": 640,
    }
    fetch = runs["fetch"].outputs
    assert (fetch["size"], fetch["total"]) == (4, 4)
    assert [row["name"] for row in fetch["rows"]] == ["Paris", "Lyon", "Nice", "Lille"]
    one = runs["fetch_one"].outputs
    assert (one["size"], one["row"]["name"]) == (1, "Brest")
    store = runs["store"].outputs
    names = ["Brest", "Lille", "Nice", "Lyon", "Paris"]
    assert [row["name"] for row in _lines(cluster, store["uri"])] == names
    assert (store["size"], store["total"]) == (5, 5)
    scroll = runs["scroll"].outputs
    assert scroll["size"] == 5
    assert [row["name"] for row in _lines(cluster, scroll["uri"])] == names


def test_bad_input_fails_the_task_run_with_the_reason(
    cluster: Cluster, es_node: ElasticsearchNode, unique_prefix: str
) -> None:
    index = f"{unique_prefix}-typed"
    closed = _closed_port()
    hosts = f'hosts: ["{es_node.url}"]'
    cluster.deploy(f"""
id: es_bad
namespace: {NS}
inputs:
  - id: case
    type: STRING
tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.case }}}}"
    cases:
      refused:
        - id: refused
          type: io.kestra.plugin.elasticsearch.Search
          connection: {{hosts: ["http://127.0.0.1:{closed}"]}}
          request: {{query: {{match_all: {{}}}}}}
      unknown_index:
        - id: unknown_index
          type: io.kestra.plugin.elasticsearch.Search
          connection: {{{hosts}}}
          indexes: ["{unique_prefix}-nowhere"]
          request: {{query: {{match_all: {{}}}}}}
      bad_query:
        - id: bad_query
          type: io.kestra.plugin.elasticsearch.Search
          connection: {{{hosts}}}
          request: {{query: {{no_such_query: {{}}}}}}
      missing_doc:
        - id: missing_doc
          type: io.kestra.plugin.elasticsearch.Get
          connection: {{{hosts}}}
          index: "{index}"
          key: nothing
          errorOnMissing: true
      bad_line:
        - id: write
          type: io.kestra.plugin.scripts.shell.Commands
          commands:
            - |
              echo '{{"index": {{"_index": "{index}"}}}}' > bulk.jsonl
              echo '{{"n": 1}}' >> bulk.jsonl
              echo '{{"index": {{"_index": "{index}"}}}}' >> bulk.jsonl
              echo '{{"n": 2' >> bulk.jsonl
          outputFiles: ["bulk.jsonl"]
        - id: bad_line
          type: io.kestra.plugin.elasticsearch.Bulk
          connection: {{{hosts}}}
          from: "{{{{ outputs.write.outputFiles['bulk.jsonl'] }}}}"
      refused_doc:
        - id: seed
          type: io.kestra.plugin.elasticsearch.Put
          connection: {{{hosts}}}
          index: "{index}"
          value: {{n: 1}}
        - id: write_rows
          type: io.kestra.plugin.scripts.shell.Commands
          commands:
            - |
              echo '{{"n": 2}}' > rows.jsonl
              echo '{{"n": "two"}}' >> rows.jsonl
          outputFiles: ["rows.jsonl"]
        - id: refused_doc
          type: io.kestra.plugin.elasticsearch.Load
          connection: {{{hosts}}}
          index: "{index}"
          from: "{{{{ outputs.write_rows.outputFiles['rows.jsonl'] }}}}"
""")
    expected = {
        "refused": ("cannot reach Elasticsearch", f"127.0.0.1:{closed}", "Connection refused"),
        "unknown_index": ("404", "index_not_found_exception", f"{unique_prefix}-nowhere"),
        "bad_query": ("400", "unknown query [no_such_query]"),
        "bad_line": ("line 4 is not JSON", '{"n": 2'),
        "refused_doc": ("Indexer failed bulk", "line 2:", "400", "failed to parse field [n]"),
        # After refused_doc, which made the index: a missing document, not a missing index.
        "missing_doc": (f"Document with key 'nothing' not found in index '{index}'",),
    }
    for case, fragments in expected.items():
        execution = cluster.run(NS, "es_bad", {"case": case}, timeout_s=90)
        assert execution.state == State.FAILED, case
        error = _runs(execution)[case].error or ""
        assert f"task {case}:" in error, (case, error)
        for fragment in fragments:
            assert fragment in error, (case, error)


def test_a_task_without_connection_or_hosts_is_refused_at_deploy(cluster: Cluster) -> None:
    for task, fragment in (
        ("{id: search, type: io.kestra.plugin.elasticsearch.Search, request: {}}", "connection"),
        (
            "{id: put, type: io.kestra.plugin.elasticsearch.Put, connection: {hosts: []},"
            " index: x, value: {a: 1}}",
            "hosts",
        ),
    ):
        problems = cluster.flows.deploy(
            f"id: es_invalid\nnamespace: {NS}\ntasks:\n  - {task}\n", actor="tests"
        )
        assert isinstance(problems, list), task
        text = "\n".join(str(p) for p in problems)
        assert "tasks[0]" in text and fragment in text, text


# Kestra's documented pattern: consume a topic to a file, turn the messages into a bulk
# request with a script, bulk-load them, then query them; addresses are the only change.
KAFKA_TO_ES = """
id: kafka_to_elasticsearch
namespace: company.team

tasks:
  - id: consume
    type: io.kestra.plugin.kafka.Consume
    properties:
      bootstrap.servers: {bootstrap}
      auto.offset.reset: earliest
    topic: {topic}
    groupId: orders-to-elasticsearch
    valueDeserializer: JSON
    maxRecords: 1000
    pollDuration: PT3S

  - id: to_bulk
    type: io.kestra.plugin.scripts.python.Script
    inputFiles:
      messages.jsonl: "{{{{ outputs.consume.uri }}}}"
    outputFiles:
      - bulk.jsonl
    script: |
      import json

      with open("messages.jsonl") as messages, open("bulk.jsonl", "w") as bulk:
          for line in messages:
              message = json.loads(line)
              action = {{"index": {{"_index": "{index}", "_id": message["key"]}}}}
              bulk.write(json.dumps(action) + "\\n")
              bulk.write(json.dumps(message["value"]) + "\\n")

  - id: bulk
    type: io.kestra.plugin.elasticsearch.Bulk
    connection:
      hosts:
        - {es_url}
    from: "{{{{ outputs.to_bulk.outputFiles['bulk.jsonl'] }}}}"

  - id: refresh
    type: io.kestra.plugin.elasticsearch.Request
    connection:
      hosts:
        - {es_url}
    method: POST
    endpoint: "/{index}/_refresh"

  - id: big_orders
    type: io.kestra.plugin.elasticsearch.Search
    connection:
      hosts:
        - {es_url}
    indexes:
      - {index}
    request:
      query:
        range:
          amount:
            gte: 100
    fetchType: NONE

  - id: report
    type: io.kestra.plugin.core.log.Log
    message: >-
      {{{{ outputs.bulk.size }}}} orders indexed,
      {{{{ outputs.big_orders.total }}}} of 100 or more
"""


def test_kafka_consume_into_elasticsearch_bulk(
    cluster: Cluster,
    kafka_broker: KafkaBroker,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    unique_prefix: str,
) -> None:
    topic, index = f"{unique_prefix}-orders", f"{unique_prefix}-orders"
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    for future in admin.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    orders = 500
    for n in range(orders):
        value = {"order": n, "amount": n % 200, "customer": f"c{n % 17}"}
        producer.produce(topic, key=f"order-{n}", value=json.dumps(value))
    assert producer.flush(30) == 0
    cluster.deploy(
        KAFKA_TO_ES.format(
            bootstrap=kafka_broker.bootstrap, topic=topic, index=index, es_url=es_node.url
        )
    )
    execution = cluster.run("company.team", "kafka_to_elasticsearch", timeout_s=180)
    assert execution.state == State.SUCCESS, execution.error
    runs = _runs(execution)
    assert runs["consume"].outputs["messagesCount"] == orders
    assert runs["bulk"].outputs == {"size": orders}
    big = sum(1 for n in range(orders) if n % 200 >= 100)
    assert runs["big_orders"].outputs["total"] == big
    assert es.count(index=index)["count"] == orders
    assert es.get(index=index, id="order-7")["_source"] == {
        "order": 7,
        "amount": 7,
        "customer": "c7",
    }
    lines = [line["message"] for line in cluster.logs_of(execution.id)]
    assert f"{orders} orders indexed, {big} of 100 or more" in lines
