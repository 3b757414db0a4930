"""WaitFor and WorkingDirectory through the real path: a real Kafka broker, real
executor and worker processes (the WaitFor's waits are the executor's timers; the
WorkingDirectory's tasks run on one worker, in one folder)."""

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

NS = "it.loops"


@pytest.fixture(scope="module")
def cluster(kafka_broker: KafkaBroker) -> Iterator[Cluster]:
    with task_cluster(kafka_broker.bootstrap, f"loops{os.getpid()}", worker_threads=2) as cluster:
        yield cluster


# Kestra's waitfor-multiple-tasks.yaml, with a worker task in the loop too.
WAIT_FOR = f"""
id: waitfor
namespace: {NS}
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{{{ outputs.output_values.values.count == '4' }}}}"
    checkFrequency:
      interval: PT0.2S
    tasks:
      - id: echo
        type: io.kestra.core.tasks.log.Log
        message: "looping {{{{ outputs.waitfor.iterationCount }}}}"
      - id: shell
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo iteration {{{{ taskrun.iteration }}}}
      - id: output_values
        type: io.kestra.plugin.core.output.OutputValues
        values:
          count: "{{{{ outputs.waitfor.iterationCount + 1 }}}}"
"""


def test_waitfor_loops_on_the_executors_timers_until_its_condition_holds(
    cluster: Cluster,
) -> None:
    cluster.deploy(WAIT_FOR)
    execution = cluster.run(NS, "waitfor", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = list(execution.task_runs.values())
    loop = next(r for r in runs if r.task_id == "waitfor")
    assert loop.outputs == {"iterationCount": 3}
    counts = [r.outputs["values"]["count"] for r in runs if r.task_id == "output_values"]
    assert counts == ["2", "3", "4"]
    assert sorted(r.iteration or 0 for r in runs if r.task_id == "shell") == [1, 2, 3]
    assert [h.state for h in loop.history].count(State.PAUSED) == 2
    messages = [line["message"] for line in cluster.logs_of(execution.id)]
    assert "iteration 3" in messages and "looping 3" in messages


FOLDER = f"""
id: folder
namespace: {NS}
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      seed.txt: "seed from {{{{ flow.id }}}}"
    outputFiles:
      - report.txt
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "$(cat seed.txt)" > report.txt
          - echo "written by {{{{ task.id }}}}" >> report.txt
      - id: count
        type: io.kestra.plugin.scripts.python.Script
        script: |
          import json
          lines = open("report.txt").read().splitlines()
          print("::" + json.dumps({{"outputs": {{"lines": len(lines)}}}}) + "::")
      - id: echo
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ outputs.count.vars.lines }}}} lines"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.wd.outputFiles['report.txt'] }}}}"
"""


def test_working_directory_tasks_share_one_folder_on_one_worker(cluster: Cluster) -> None:
    cluster.deploy(FOLDER)
    execution = cluster.run(NS, "folder", timeout_s=90)
    assert execution.state == State.SUCCESS, execution.error
    runs = {r.task_id: r for r in execution.task_runs.values()}
    assert sorted(runs) == ["after", "count", "echo", "wd", "write"]
    wd = runs["wd"]
    assert all(runs[t].parent_id == wd.id for t in ("write", "count", "echo"))
    workers = {runs[t].attempts[-1].worker_id for t in ("wd", "write", "count", "echo")}
    assert len(workers) == 1  # one worker ran them all
    assert runs["count"].outputs["vars"] == {"lines": 2}
    assert runs["echo"].outputs == {"value": "2 lines"}
    uri = runs["after"].outputs["value"]
    storage = LocalStorage(Path(cluster.env["LANNER_STORAGE_DIR"]))
    assert storage.get_bytes(uri) == b"seed from folder\nwritten by write\n"
