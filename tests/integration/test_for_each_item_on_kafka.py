"""ForEachItem through the real path: a file in storage, split by a worker, one subflow
execution per batch started by the executor, their outputs merged by a worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.states import State
from streams.storage import LocalStorage
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import Cluster
from tests.integration.task_cluster import task_cluster

NS = "it.foreachitem"

CHILD = f"""
id: per_batch
namespace: {NS}
inputs:
  - id: items
    type: STRING
tasks:
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ read(inputs.items) | trim }}}}"
outputs:
  - id: value
    type: STRING
    value: "{{{{ outputs.return.value }}}}"
"""

PARENT = f"""
id: each_item
namespace: {NS}
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch:
      rows: 4
    namespace: {NS}
    flowId: per_batch
    inputs:
      items: "{{{{ taskrun.items }}}}"
  - id: merged
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.each_merge.subflowOutputs }}}}"
"""


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    prefix = f"foreachitem{os.getpid()}"
    with task_cluster(kafka_broker.bootstrap, prefix, worker_threads=2) as cluster:
        yield cluster


def test_for_each_item_runs_a_subflow_per_batch_and_merges_their_outputs(
    cluster: Cluster,
) -> None:
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    lines = [str(i).rjust(20) for i in range(10)]
    uri = storage.put_bytes(
        "kestra://main/it/foreachitem/uploads/file.txt", ("\n".join(lines) + "\n").encode()
    )
    cluster.deploy(CHILD)
    cluster.deploy(PARENT)
    execution = cluster.run(NS, "each_item", {"file": uri}, timeout_s=120)
    assert execution.state == State.SUCCESS, execution.error

    runs = {r.task_id: r for r in execution.task_runs.values()}
    assert list(runs) == ["each", "each_split", "each_items", "each_merge", "merged"]
    items = runs["each_items"]
    assert items.outputs["numberOfBatches"] == 3
    assert items.outputs["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}

    # One subflow execution per batch, each given its batch file's URI.
    children = [c["executionId"] for c in (items.decision or {})["children"]]
    ended = cluster.wait_for_all(set(children), timeout_s=60)
    batches = runs["each_split"].outputs["uris"]
    for child, batch in zip(children, batches, strict=True):
        assert ended[child].state == State.SUCCESS
        assert ended[child].inputs["items"] == batch
        assert ended[child].parent is not None
        assert ended[child].parent.task_run_id == items.id

    # The merged outputs: one Ion line per subflow, in batch order.
    merged = runs["each_merge"].outputs["subflowOutputs"]
    assert runs["merged"].outputs["value"] == merged
    text = storage.get_bytes(merged).decode()
    expected = ["\\n".join(line for line in lines[i : i + 4]).strip() for i in range(0, 10, 4)]
    assert text.splitlines() == ['{value:"' + e + '"}' for e in expected]
