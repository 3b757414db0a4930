"""`{{ workingDir }}`, `{{ outputDir }}` and DuckDB's `{{ outputFiles.<name> }}` through the
real path: flows deployed with the API, the executor and a worker as processes on the real
Kafka broker, the executions read back from the real Elasticsearch. Kestra's own shapes: a
Python project kept as namespace files run as `python {{ workingDir }}/main.py`, a
WorkingDirectory whose second task reads what the first wrote there, DuckDB copying a query
to an output file; and a task that has no working folder using one, failing by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack import Stack, wait_for

pytestmark = pytest.mark.integration
NS = "company.folders"

PROJECT = """\
id: project
namespace: company.folders
tasks:
  - id: python
    type: io.kestra.plugin.scripts.python.Commands
    namespaceFiles:
      enabled: true
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - python {{ workingDir }}/main.py "{{ workingDir | upper }}" {{ outputDir }}
"""

MAIN_PY = b"""\
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(sys.argv[2], "report.txt"), "w") as report:
    report.write("written in outputDir")
print("::" + json.dumps({"outputs": {
    "cwd_is_working_dir": here == os.getcwd() == os.environ["WORKING_DIR"],
    "upper_matches": sys.argv[1] == here.upper(),
}}) + "::")
"""

FOLDER = """\
id: folder
namespace: company.folders
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "written by {{ taskrun.id }}" > {{ workingDir }}/shared.txt
      - id: read
        type: io.kestra.plugin.scripts.python.Script
        script: |
          import json
          seen = open("{{ workingDir }}/shared.txt").read().strip()
          print("::" + json.dumps({"outputs": {"seen": seen}}) + "::")
"""

DUCKDB = """\
id: duck
namespace: company.folders
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    outputFiles:
      - out.csv
    sql: |
      COPY (SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a)
      TO '{{ outputFiles['out.csv'] }}' (HEADER)
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.query.outputFiles['out.csv']) }}"
"""

NO_FOLDER = """\
id: nofolder
namespace: company.folders
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "running in {{ workingDir }}"
  - id: never
    type: io.kestra.plugin.core.debug.Return
    format: not reached
"""


def _runs(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["taskId"]: run for run in execution.get("taskRunList", [])}


def _run(stack: Stack, flow_id: str) -> dict[str, Any]:
    created = stack.run(NS, flow_id)
    return stack.until_ended(created["id"], timeout_s=120)


def _logged(stack: Stack, execution_id: str, text: str) -> str:
    def probe() -> str | None:
        response = stack.http.get(f"/logs/{execution_id}")
        assert response.status_code == 200, response.text
        found = [str(line.get("message")) for line in response.json()]
        return next((line for line in found if text in line), None)

    return wait_for(probe, 30, f"a log line with {text!r} in {execution_id}")


def _work_folders(stack: Stack) -> list[Path]:
    runs = Path(stack.settings.data_dir).resolve() / "work" / "main" / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


def test_a_namespace_file_runs_as_python_working_dir_main_py(stack: Stack) -> None:
    uploaded = stack.http.post(
        f"/namespaces/{NS}/files",
        params={"path": "/main.py"},
        files={"fileContent": ("main.py", MAIN_PY)},
    )
    assert uploaded.status_code == 200, uploaded.text
    stack.deploy(PROJECT)
    execution = _run(stack, "project")
    assert execution["state"]["current"] == "SUCCESS", execution
    python = _runs(execution)["python"]
    assert python["outputs"]["vars"] == {"cwd_is_working_dir": True, "upper_matches": True}
    report = python["outputs"]["outputFiles"]["report.txt"]
    assert report.startswith(f"kestra://main/company/folders/project/executions/{execution['id']}/")
    # The folder made to resolve {{ workingDir }} is gone with the task run.
    assert _work_folders(stack) == []


def test_a_working_directory_task_reads_what_the_one_before_wrote(stack: Stack) -> None:
    stack.deploy(FOLDER)
    execution = _run(stack, "folder")
    assert execution["state"]["current"] == "SUCCESS", execution
    runs = _runs(execution)
    assert runs["read"]["outputs"]["vars"] == {"seen": f"written by {runs['write']['id']}"}


def test_duckdb_writes_its_output_file_and_the_next_task_reads_it(stack: Stack) -> None:
    stack.deploy(DUCKDB)
    execution = _run(stack, "duck")
    assert execution["state"]["current"] == "SUCCESS", execution
    runs = _runs(execution)
    uri = runs["query"]["outputs"]["outputFiles"]["out.csv"]
    assert uri.startswith(f"kestra://main/company/folders/duck/executions/{execution['id']}/")
    assert runs["show"]["outputs"] == {"value": "a\n1\n2\n"}


def test_a_task_without_a_working_folder_fails_naming_it(stack: Stack) -> None:
    stack.deploy(NO_FOLDER)
    execution = _run(stack, "nofolder")
    assert execution["state"]["current"] == "FAILED", execution
    runs = _runs(execution)
    assert runs["hello"]["state"]["current"] == "FAILED"
    assert "never" not in runs
    line = _logged(stack, execution["id"], "{{ workingDir }} is only known on a worker")
    assert line.startswith("task hello: ")
    assert "io.kestra.plugin.core.log.Log has none" in line
