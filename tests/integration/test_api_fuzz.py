"""Property-based fuzzing of the whole OpenAPI against a real `lanner server local`
(noida-db, every role, the webserver as its own process): no operation answers 5xx, and
every answer is what the document declares for it (a documented status, its media type,
a body that matches its schema), so a client generated from /openapi.json can read it.

Schemathesis generates the cases from the API's own /openapi.json, valid ones and (where
an operation has query parameters or a body) invalid ones, with Hypothesis derandomized
and without its example database, so a run is the same every time. Each operation is
driven twice: with generated path parameters, and with those of a real flow and a real
finished execution, so that the routes past their 404 are reached too. The budget
(EXAMPLES per operation and mode) keeps the run to a few minutes on a 2-core machine.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness.common import free_ports, stop_process
from tests.integration.stack import REPO, wait_for

EXAMPLES = int(os.environ.get("LANNER_FUZZ_EXAMPLES", "10"))
REQUEST_TIMEOUT_S = 20.0
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
FLOW = """\
id: fuzzed
namespace: company.fuzz
labels:
  team: fuzz
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: data
    type: FILE
    required: false
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }}"
"""


@dataclass
class LocalServer:
    url: str
    log_file: Path
    proc: subprocess.Popen[bytes]
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    work = tmp_path_factory.mktemp("fuzz")
    (work / "flows").mkdir()
    (work / "flows" / "fuzzed.yml").write_text(FLOW, encoding="utf-8")
    kafka_port, es_port, api_port = free_ports(3)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "LANNER_ELASTICSEARCH_URL": f"http://127.0.0.1:{es_port}",
        "LANNER_API_PORT": str(api_port),
        "LANNER_AUTH": "off",
        "LANNER_SECRET_KEY": f"fuzz-{secrets.token_hex(16)}",
        "LANNER_LOG_LEVEL": "WARNING",
    }
    log_file = work / "server.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli.main",
                "server",
                "local",
                "--flows",
                str(work / "flows"),
                "--data-dir",
                str(work / "data"),
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = LocalServer(f"http://127.0.0.1:{api_port}", log_file, proc)

    def deployed() -> bool:
        assert proc.poll() is None, log_file.read_text(errors="replace")[-3000:]
        try:
            return (
                httpx.get(f"{server.url}/api/v1/flows/company.fuzz/fuzzed", timeout=5).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    try:
        wait_for(deployed, 180, "`lanner server local` to serve the deployed flow")
        yield server
    finally:
        stop_process(proc, what="lanner server local", timeout_s=40)


def _finished_execution(server: LocalServer) -> str:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        created = client.post("/executions/company.fuzz/fuzzed", json={"name": "fuzz"})
        assert created.status_code == 200, created.text
        execution_id: str = created.json()["id"]

        def ended() -> bool:
            body = client.get(f"/executions/{execution_id}").json()
            return body.get("state", {}).get("current") in ("SUCCESS", "FAILED")

        wait_for(ended, 60, "the fuzzed flow's execution to end")
    return execution_id


def _modes(operation: schemathesis.APIOperation) -> list[GenerationMode]:
    # Without query parameters or a body there is nothing invalid to send (path
    # parameters are strings): Hypothesis would only report the run unsatisfiable.
    if operation.query or operation.body:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def test_no_operation_answers_a_server_error(local_server: LocalServer) -> None:
    execution_id = _finished_execution(local_server)
    real = {"namespace": "company.fuzz", "flow_id": "fuzzed", "execution_id": execution_id}
    schema = schemathesis.openapi.from_url(f"{local_server.url}/openapi.json")
    session = requests.Session()
    failures: list[str] = []
    counts: dict[str, int] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, [op.label for op in operations]
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        fixed = [None] + ([{k: v for k, v in real.items() if k in names}] if names else [])
        for path_parameters in fixed:
            for mode in _modes(operation):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )

                @given(case=strategy)
                @settings(
                    max_examples=EXAMPLES,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate],
                )
                def call(case: schemathesis.Case) -> None:
                    label = case.operation.label
                    counts[label] = counts.get(label, 0) + 1
                    try:
                        response = case.call(
                            base_url=local_server.url, session=session, timeout=REQUEST_TIMEOUT_S
                        )
                    except requests.RequestException as exc:
                        failures.append(f"{type(exc).__name__}: {case.as_curl_command()}")
                        return
                    if response.status_code >= 500:
                        failures.append(
                            f"{response.status_code} {response.text[:300]}\n    "
                            f"{case.as_curl_command()}"
                        )
                        return
                    try:
                        case.validate_response(response, checks=CONFORMANCE)
                    except Exception as exc:  # schemathesis' FailureGroup: say what and where
                        failures.append(
                            f"{label}: {response.status_code} not as declared: "
                            f"{str(exc)[:600]}\n    {case.as_curl_command()}"
                        )

                call()
    elapsed = time.monotonic() - started
    print(
        f"fuzzed {len(operations)} operations with {sum(counts.values())} requests in "
        f"{elapsed:.0f} s ({EXAMPLES} examples per operation and mode); "
        f"{len(failures)} server errors or answers not as declared"
    )
    assert not failures, "\n".join(failures[:20])
    assert httpx.get(f"{local_server.url}/health", timeout=5).status_code == 200
