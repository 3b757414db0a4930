"""Namespace files on the real broker and search store: a Python project kept as namespace
files (Kestra's documentation shape: main.py importing a module beside it) runs to
SUCCESS; a new version is what the next execution sees; a delete is too; the
namespace.*Files tasks and read('path') work on the same files; bad input is answered
clearly (422 for a path that leaves the namespace, 413 past the body limit, 404 for an
unknown namespace)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stack import REPO, Stack, wait_for

pytestmark = pytest.mark.integration
NS = "company.team"

PROJECT_FLOW = """\
id: python_project
namespace: company.team
tasks:
  - id: run
    type: io.kestra.plugin.scripts.python.Commands
    namespaceFiles:
      enabled: true
      include:
        - "**.py"
        - config/**
      exclude:
        - tests/**
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - python main.py
  - id: motd
    type: io.kestra.plugin.core.log.Log
    message: "{{ read('config/motd.txt') }}"
"""

MAIN_PY = """\
import json
import os

from utils.greet import hello

# tests/ was excluded, config/ included: both are visible in the working directory.
print("::" + json.dumps({"outputs": {
    "greeting": hello("Lanner"),
    "tests_copied": os.path.exists("tests"),
    "config": open("config/motd.txt").read(),
}}) + "::")
"""

FILES_FLOW = """\
id: files_tasks
namespace: company.team
tasks:
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    filesMap:
      generated/report.txt: "report of {{ execution.id }}"
    destination: /
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "read back: {{ read('generated/report.txt') }}"
  - id: download
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: company.team
    files:
      - generated/**
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    files: /generated/report.txt
"""


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_URL": f"http://127.0.0.1:{stack.settings.api_port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def _upload(stack: Stack, path: str, content: bytes, name: str = "file") -> Any:
    return stack.http.post(
        f"/namespaces/{NS}/files", params={"path": path}, files={"fileContent": (name, content)}
    )


def _runs(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["taskId"]: run for run in execution.get("taskRunList", [])}


def _logged(stack: Stack, execution_id: str, text: str) -> str:
    """The first log line of the execution holding `text`, once the indexer has it."""

    def probe() -> str | None:
        response = stack.http.get(f"/logs/{execution_id}")
        assert response.status_code == 200, response.text
        found = [str(line.get("message")) for line in response.json()]
        return next((line for line in found if text in line), None)

    return wait_for(probe, 30, f"a log line with {text!r} in {execution_id}")


def _run(stack: Stack, flow_id: str) -> dict[str, Any]:
    created = stack.run(NS, flow_id)
    return stack.until_ended(created["id"], timeout_s=120)


def test_a_python_project_in_namespace_files_runs_and_follows_new_versions(
    stack: Stack, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "utils").mkdir(parents=True)
    (project / "config").mkdir()
    (project / "tests").mkdir()
    (project / "main.py").write_text(MAIN_PY)
    (project / "utils" / "__init__.py").write_text("")
    (project / "utils" / "greet.py").write_text("def hello(name):\n    return f'v1 {name}'\n")
    (project / "config" / "motd.txt").write_text("hello from namespace files")
    (project / "tests" / "test_greet.py").write_text("assert False\n")
    uploaded = _cli(stack, "namespace", "files", "upload", NS, str(project))
    assert uploaded.returncode == 0, uploaded.stderr
    assert "/utils/greet.py uploaded to company.team (version 1)" in uploaded.stderr

    listed = _cli(stack, "namespace", "files", "list", NS, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(e["fileName"] for e in json.loads(listed.stdout)) == [
        "config/motd.txt",
        "main.py",
        "tests/test_greet.py",
        "utils/__init__.py",
        "utils/greet.py",
    ]
    top = stack.http.get(f"/namespaces/{NS}/files/directory").json()
    assert [(e["fileName"], e["type"]) for e in top] == [
        ("config", "Directory"),
        ("main.py", "File"),
        ("tests", "Directory"),
        ("utils", "Directory"),
    ]

    stack.deploy(PROJECT_FLOW)
    first = _run(stack, "python_project")
    assert first["state"]["current"] == "SUCCESS", first
    outputs = _runs(first)["run"]["outputs"]["vars"]
    assert outputs == {
        "greeting": "v1 Lanner",
        "tests_copied": False,
        "config": "hello from namespace files",
    }
    assert _logged(stack, first["id"], "hello from namespace files")

    # A new version, through the API as Kestra's UI sends it: the next execution runs it.
    new = _upload(stack, "/utils/greet.py", b"def hello(name):\n    return f'v2 {name}'\n")
    assert new.status_code == 200, new.text
    assert new.json() == [{"path": "/utils/greet.py", "size": 41, "version": 2}]
    second = _run(stack, "python_project")
    assert second["state"]["current"] == "SUCCESS", second
    assert _runs(second)["run"]["outputs"]["vars"]["greeting"] == "v2 Lanner"
    revisions = stack.http.get(
        f"/namespaces/{NS}/files/revisions", params={"path": "utils/greet.py"}
    )
    assert [r["revision"] for r in revisions.json()] == [1, 2]
    old = _cli(stack, "namespace", "files", "get", NS, "/utils/greet.py", "--revision", "1")
    assert "v1" in old.stdout

    # Deleted: the next execution no longer finds the module.
    gone = _cli(stack, "namespace", "files", "delete", NS, "/utils/greet.py")
    assert gone.returncode == 0, gone.stderr
    missing = _cli(stack, "namespace", "files", "get", NS, "/utils/greet.py")
    assert missing.returncode == 1
    assert "namespace file /utils/greet.py not found in namespace company.team" in missing.stderr
    third = _run(stack, "python_project")
    assert third["state"]["current"] == "FAILED"
    assert _logged(stack, third["id"], "No module named 'utils.greet'")


def test_the_namespace_file_tasks_and_read_work_on_the_same_files(stack: Stack) -> None:
    stack.deploy(FILES_FLOW)
    execution = _run(stack, "files_tasks")
    assert execution["state"]["current"] == "SUCCESS", execution
    runs = _runs(execution)
    assert list(runs["upload"]["outputs"]["files"]) == ["/generated/report.txt"]
    copy = runs["download"]["outputs"]["files"]["/generated/report.txt"]
    assert copy.startswith("kestra://main/company/team/files_tasks/executions/")
    assert list(runs["delete"]["outputs"]["files"]) == ["/generated/report.txt"]
    assert _logged(stack, execution["id"], f"read back: report of {execution['id']}")
    # Deleted by the flow, yet its version is kept, written by the execution.
    assert (
        stack.http.get(
            f"/namespaces/{NS}/files", params={"path": "generated/report.txt"}
        ).status_code
        == 404
    )
    revisions = stack.http.get(
        f"/namespaces/{NS}/files/revisions", params={"path": "generated/report.txt"}
    ).json()
    assert [r["actor"] for r in revisions] == [execution["id"]]
    content = stack.http.get(
        f"/namespaces/{NS}/files", params={"path": "generated/report.txt", "revision": 1}
    )
    assert content.content == f"report of {execution['id']}".encode()


def test_bad_input_is_answered_clearly(stack: Stack) -> None:
    assert _upload(stack, "/present.txt", b"here").status_code == 200  # the namespace exists
    traversal = _upload(stack, "../../etc/passwd", b"x")
    assert traversal.status_code == 422
    assert "leaves the namespace" in traversal.json()["message"]
    assert (
        stack.http.get(f"/namespaces/{NS}/files", params={"path": "/a/../../b"}).status_code == 422
    )

    huge = _upload(stack, "/huge.bin", b"\0" * (stack.settings.limits.request_body_bytes + 1))
    assert huge.status_code == 413
    assert huge.json()["limit"] == "request_body_bytes"

    unknown = stack.http.get("/namespaces/no.such.team/files/directory")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == (
        "namespace no.such.team not found: it has no flow and no namespace file"
    )
    assert stack.http.get("/namespaces/bad ns!/files/directory").status_code == 422
    missing = stack.http.get(f"/namespaces/{NS}/files", params={"path": "/nope.py"})
    assert missing.status_code == 404
    assert "namespace file /nope.py not found in namespace company.team" in missing.text

    plain = stack.http.post(f"/namespaces/{NS}/files", params={"path": "/a.txt"}, content=b"x")
    assert plain.status_code == 415

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ok.txt", "fine")
        zipped.writestr("../evil.txt", "escape")
    zip_slip = _upload(stack, "/", archive.getvalue(), name="project.zip")
    assert zip_slip.status_code == 422 and "leaves the namespace" in zip_slip.text
    # Nothing of the refused archive was stored.
    assert stack.http.get(f"/namespaces/{NS}/files", params={"path": "ok.txt"}).status_code == 404
    # A good archive is unpacked below the folder given as its path.
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zipped:
        zipped.writestr("a.sql", "select 1")
        zipped.writestr("sub/b.sql", "select 2")
    unpacked = _upload(stack, "/queries", good.getvalue(), name="queries.zip")
    assert unpacked.status_code == 200, unpacked.text
    assert [e["path"] for e in unpacked.json()] == ["/queries/a.sql", "/queries/sub/b.sql"]


WORKING_DIRECTORY_FLOW = """\
id: working_directory
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    namespaceFiles:
      enabled: true
      include:
        - wd/**
    tasks:
      - id: build
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - mkdir -p out && tr a-z A-Z < wd/input.txt > out/result.txt
      - id: publish
        type: io.kestra.plugin.core.namespace.UploadFiles
        files:
          - "out/*.txt"
        destination: /published
"""


def test_a_working_directory_gets_namespace_files_and_uploads_its_results(stack: Stack) -> None:
    assert _upload(stack, "/wd/input.txt", b"shout this").status_code == 200
    stack.deploy(WORKING_DIRECTORY_FLOW)
    execution = _run(stack, "working_directory")
    assert execution["state"]["current"] == "SUCCESS", execution
    assert list(_runs(execution)["publish"]["outputs"]["files"]) == ["/published/out/result.txt"]
    result = stack.http.get(f"/namespaces/{NS}/files", params={"path": "published/out/result.txt"})
    assert result.status_code == 200 and result.content == b"SHOUT THIS"
