"""`{{ workingDir }}`, `{{ outputDir }}` and `{{ outputFiles.<name> }}`: the executor (pure)
leaves markers in the job for the tasks that offer them and fails the others by name; the
worker's resolver turns the markers into paths in the task's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from schemas.worker import WorkerJob
from streams.core.context import DEFERRED_PATTERN
from streams.core.expressions import analyse
from streams.deferred_lookups import (
    DeferredError,
    TaskFolder,
    make_resolver,
    resolve_deferred,
)
from tests.unit.core.driver import Sim
from tests.unit.core.helpers import flow

PYTHON = "io.kestra.plugin.scripts.python.Commands"
DUCKDB = "io.kestra.plugin.jdbc.duckdb.Query"

FOLDERS = flow(
    f"""
    tasks:
      - id: python
        type: {PYTHON}
        namespaceFiles:
          enabled: true
        commands:
          - python {{{{ workingDir }}}}/main.py --out {{{{ outputDir }}}}
          - echo {{{{ workingDir | upper }}}} {{{{ inputs.name }}}}
      - id: query
        type: {DUCKDB}
        outputFiles:
          - out.csv
        sql: "COPY (SELECT 1 AS a) TO '{{{{ outputFiles['out.csv'] }}}}' (HEADER)"
    inputs:
      - id: name
        type: STRING
        defaults: world
    """
)


def _job(sim: Sim, task_id: str) -> WorkerJob:
    return next(j for j in sim.jobs if j.task_id == task_id)


def _kinds(text: str) -> list[str]:
    return [m.group(1) for m in DEFERRED_PATTERN.finditer(text)]


def _resolve(job: WorkerJob, folder: Path, declared: list[str] | None = None) -> Any:
    task_folder = TaskFolder(lambda: folder, job.task_id, declared or [])
    return resolve_deferred(
        job.task, make_resolver({}, None, None, "kestra://main/", folder=task_folder)
    )


def test_the_executor_leaves_markers_and_the_worker_puts_the_folder_there(tmp_path: Path) -> None:
    sim = Sim(FOLDERS).start("f")
    assert sim.state().state == State.SUCCESS
    python = _job(sim, "python")
    printed, acted = python.task["commands"]
    # Printed as is: a marker in place, the rest rendered by the executor.
    assert _kinds(printed) == ["folder", "folder"] and printed.startswith("python \x00")
    # Acted on: the whole template goes to the worker, with the variables it reads.
    assert _kinds(acted) == ["render"]
    resolved = _resolve(python, tmp_path)
    assert resolved["commands"] == [
        f"python {tmp_path}/main.py --out {tmp_path}/output-python",
        f"echo {str(tmp_path).upper()} world",
    ]
    assert (tmp_path / "output-python").is_dir()  # made when {{ outputDir }} is resolved

    query = _job(sim, "query")
    assert _kinds(query.task["sql"]) == ["folder"]
    sql = _resolve(query, tmp_path, ["out.csv"])["sql"]
    assert sql == f"COPY (SELECT 1 AS a) TO '{tmp_path}/out.csv' (HEADER)"


def test_a_task_without_a_working_folder_fails_naming_the_task_and_the_variable() -> None:
    source = flow(
        f"""
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Log
            message: "in {{{{ workingDir }}}}"
          - id: query
            type: {DUCKDB}
            sql: "COPY (SELECT 1) TO '{{{{ outputDir }}}}/x.csv'"
        errors:
          - id: carry_on
            type: {DUCKDB}
            sql: "SELECT '{{{{ outputDir }}}}'"
        """
    )
    sim = Sim(source).start("f")
    assert sim.state().state == State.FAILED
    hello = sim.run_of("hello")
    assert hello.state == State.FAILED
    assert hello.error is not None
    assert hello.error.startswith("task hello: {{ workingDir }} is only known on a worker")
    assert "io.kestra.plugin.core.log.Log has none" in hello.error
    carry_on = sim.run_of("carry_on")
    assert carry_on.error is not None and "task carry_on: {{ outputDir }}" in carry_on.error
    assert f"{DUCKDB} has none" in carry_on.error
    assert not sim.jobs  # nothing was dispatched


def test_the_worker_refuses_an_undeclared_output_file_and_a_job_without_folder(
    tmp_path: Path,
) -> None:
    source = flow(
        f"""
        tasks:
          - id: query
            type: {DUCKDB}
            outputFiles: [out.csv]
            sql: "COPY (SELECT 1) TO '{{{{ outputFiles.other }}}}'"
        """
    )
    job = _job(Sim(source).start("f"), "query")
    with pytest.raises(DeferredError, match=r"'other' is not one of the task's outputFiles"):
        _resolve(job, tmp_path, ["out.csv"])
    with pytest.raises(DeferredError, match="needs the task's working folder"):
        resolve_deferred(job.task, make_resolver({}, None, None, "kestra://main/"))
    with pytest.raises(DeferredError, match="must be a relative path"):
        TaskFolder(lambda: tmp_path, "q", ["../x"]).value(["outputFiles", "../x"])


def test_a_map_printed_whole_or_a_computed_key_renders_on_the_worker(tmp_path: Path) -> None:
    source = flow(
        f"""
        tasks:
          - id: query
            type: {DUCKDB}
            outputFiles: [a.csv, b.csv]
            sql: "SELECT '{{{{ outputFiles }}}}' AS every, '{{{{ outputFiles[vars.k] }}}}' AS b"
        variables:
          k: b.csv
        """
    )
    job = _job(Sim(source).start("f"), "query")
    assert _kinds(job.task["sql"]) == ["render"]
    sql = _resolve(job, tmp_path, ["a.csv", "b.csv"])["sql"]
    files = {"a.csv": f"{tmp_path}/a.csv", "b.csv": f"{tmp_path}/b.csv"}
    every = json.dumps(files, separators=(",", ":"))
    assert sql == f"SELECT '{every}' AS every, '{tmp_path}/b.csv' AS b"


def test_the_analysis_tells_printed_names_from_acted_ones() -> None:
    printed = analyse("cd {{ workingDir }} && cat {{ outputFiles.a }} {{ outputFiles['b.csv'] }}")
    assert printed.acted_names == frozenset()
    assert printed.bare_names == {"workingDir"}
    acted = analyse("{% if workingDir %}{{ outputDir | upper }}{{ outputFiles[name] }}{% endif %}")
    assert acted.acted_names == {"workingDir", "outputDir", "outputFiles", "name"}


def test_a_template_acting_on_a_secret_and_the_folder_renders_once_with_both(
    tmp_path: Path,
) -> None:
    source = flow(
        """
        tasks:
          - id: sh
            type: io.kestra.plugin.scripts.shell.Commands
            commands:
              - echo {{ (secret('TOKEN') ~ '@' ~ workingDir) | lower }}
        """
    )
    job = _job(Sim(source).start("f"), "sh")
    assert _kinds(job.task["commands"][0]) == ["render"]
    derived: list[str] = []
    resolver = make_resolver(
        {"TOKEN": "S3CRET"},
        None,
        None,
        "kestra://main/",
        derived,
        folder=TaskFolder(lambda: tmp_path, "sh", []),
    )
    expected = f"s3cret@{str(tmp_path).lower()}"
    assert resolve_deferred(job.task, resolver)["commands"] == [f"echo {expected}"]
    assert derived == [f"echo {expected}"]  # made of a secret: masked as a whole
