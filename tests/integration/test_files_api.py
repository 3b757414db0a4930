"""FILE inputs uploaded through the API reach a task; task output files download back."""

from __future__ import annotations

import secrets

from tests.integration.stack import Stack

FLOW = """\
id: files
namespace: {ns}
inputs:
  - id: data
    type: FILE
tasks:
  - id: shout
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      in.txt: "{{{{ inputs.data }}}}"
    outputFiles:
      - out.txt
    commands:
      - tr a-z A-Z < in.txt > out.txt
"""


def test_a_file_input_goes_through_a_task_and_its_output_downloads(stack: Stack) -> None:
    ns = f"company.f{secrets.token_hex(3)}"
    stack.deploy(FLOW.format(ns=ns))
    response = stack.http.post(
        f"/executions/{ns}/files", files={"data": ("letter.txt", b"hello files\n")}
    )
    assert response.status_code == 200, response.text
    created = response.json()
    uri = created["inputs"]["data"]
    assert uri.startswith("kestra://") and uri.endswith("/inputs/data/letter.txt")
    execution = stack.until_ended(created["id"])
    assert execution["state"]["current"] == "SUCCESS", execution
    [shout] = [r for r in execution["taskRunList"] if r["taskId"] == "shout"]
    out_uri = shout["outputs"]["outputFiles"]["out.txt"]
    download = stack.http.get(f"/executions/{created['id']}/file", params={"path": out_uri})
    assert download.status_code == 200, download.text
    assert download.content == b"HELLO FILES\n"
    original = stack.http.get(f"/executions/{created['id']}/file", params={"path": uri})
    assert original.content == b"hello files\n"


def test_a_file_of_another_execution_is_refused(stack: Stack) -> None:
    ns = f"company.f{secrets.token_hex(3)}"
    stack.deploy(FLOW.format(ns=ns))
    created = stack.http.post(f"/executions/{ns}/files", files={"data": ("a.txt", b"x")}).json()
    other = "kestra://main/elsewhere/flow/executions/someone/inputs/data/a.txt"
    refused = stack.http.get(f"/executions/{created['id']}/file", params={"path": other})
    assert refused.status_code == 422 and "parameter 'path'" in refused.json()["message"]
    missing = created["inputs"]["data"].replace("a.txt", "nothing.txt")
    assert (
        stack.http.get(f"/executions/{created['id']}/file", params={"path": missing}).status_code
        == 404
    )
