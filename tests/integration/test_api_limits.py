"""Hostile requests through the real API (Kafka + Elasticsearch): each is refused with a
4xx that names its limit, and the API keeps answering meanwhile."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from tests.integration.stack import Stack
from tests.unit.test_yaml_limits import alias_bomb

YAML = {"content-type": "application/x-yaml"}
FLOW = """\
id: {id}
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: data
    type: FILE
    required: false
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.name }}}}"
"""


def _flow(stack: Stack) -> tuple[str, str]:
    ns, flow_id = f"company.l{secrets.token_hex(3)}", "limits"
    stack.deploy(FLOW.format(id=flow_id, ns=ns))
    return ns, flow_id


def _health_times(stack: Stack, stop: threading.Event, times: list[float]) -> None:
    with httpx.Client(
        base_url=str(stack.http.base_url).replace("/api/v1", ""), timeout=10
    ) as client:
        while not stop.is_set():
            started = time.monotonic()
            client.get("/health").raise_for_status()
            times.append(time.monotonic() - started)
            time.sleep(0.05)


def test_the_alias_bomb_is_refused_naming_the_limit_and_the_api_keeps_answering(
    stack: Stack,
) -> None:
    source = alias_bomb()
    stop, times = threading.Event(), []  # type: ignore[var-annotated]
    prober = threading.Thread(target=_health_times, args=(stack, stop, times))
    prober.start()
    try:
        posted, slowest = 0, 0.0
        # Bombs for two seconds at least, with /health probed all along (two probes at
        # least; a probe builds a Kafka admin client, a few hundred ms on a busy machine).
        first = time.monotonic()
        while time.monotonic() < first + 2.0 or len(times) < 2:
            assert time.monotonic() < first + 60, "bounded loop"
            started = time.monotonic()
            created = stack.http.post("/flows", content=source, headers=YAML)
            validated = stack.http.post("/flows/validate", content=source, headers=YAML)
            slowest = max(slowest, (time.monotonic() - started) / 2)
            posted += 2
    finally:
        stop.set()
        prober.join()
    assert created.status_code == 422, created.text
    [problem] = created.json()["problems"]
    assert problem["line"] == 13 and "yaml_nodes" in problem["message"]
    assert validated.status_code == 200 and validated.json()["valid"] is False
    assert "LANNER_LIMITS_YAML_NODES" in validated.json()["problems"][0]["message"]
    print(
        f"{posted} bombs refused, slowest {slowest * 1000:.0f} ms; /health max "
        f"{max(times) * 1000:.0f} ms over {len(times)} probes"
    )
    assert slowest < 2.0 and max(times) < 2.0
    # Nothing was deployed.
    assert stack.http.get("/flows/company.team/bomb").status_code == 404


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size


def test_bodies_over_the_limit_answer_413_on_every_route(stack: Stack) -> None:
    limit = stack.settings.limits.request_body_bytes
    big = b"a" * (limit + 1)
    routes: list[tuple[str, str, dict[str, str]]] = [
        ("POST", "/flows", YAML),
        ("POST", "/flows/validate", YAML),
        ("PUT", "/flows/a.b/c", YAML),
        ("POST", "/executions/a.b/c", {}),
        ("PUT", "/namespaces/a.b/secrets/S", {"content-type": "application/json"}),
        ("POST", "/executions/x/state", {"content-type": "application/json"}),
    ]
    for method, path, headers in routes:
        for prefix in ("", "/main"):  # tenant paths too
            started = time.monotonic()
            response = stack.http.request(method, prefix + path, content=big, headers=headers)
            assert response.status_code == 413, (method, prefix + path, response.text)
            body = response.json()
            assert body["limit"] == "request_body_bytes" and body["maxBytes"] == limit
            assert "LANNER_LIMITS_REQUEST_BODY_BYTES" in body["message"]
            assert time.monotonic() - started < 2
    # Without a Content-Length (chunked): cut once the bytes pass the limit.
    chunked = stack.http.post("/flows/validate", content=_chunks(5 * limit), headers=YAML)
    assert chunked.status_code == 413 and chunked.json()["limit"] == "request_body_bytes"
    # The API is fine afterwards.
    assert stack.http.post("/flows/validate", content="id: x\n", headers=YAML).status_code == 200


def test_a_file_input_larger_than_the_body_limit_uploads(stack: Stack) -> None:
    ns, flow_id = _flow(stack)
    data = b"0123456789" * (stack.settings.limits.request_body_bytes // 10 + 1000)
    response = stack.http.post(
        f"/executions/{ns}/{flow_id}", files={"data": ("big.bin", data)}, data={"name": "files"}
    )
    assert response.status_code == 200, response.text
    created = response.json()
    uri = created["inputs"]["data"]
    stack.until_ended(created["id"])
    download = stack.http.get(f"/executions/{created['id']}/file", params={"path": uri})
    assert download.status_code == 200 and download.content == data


def test_an_input_over_input_bytes_answers_413_and_writes_nothing(stack: Stack) -> None:
    ns, flow_id = _flow(stack)
    limit = stack.settings.limits.input_bytes
    response = stack.http.post(f"/executions/{ns}/{flow_id}", json={"name": "x" * 5_000_000})
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["limit"] == "input_bytes" and body["maxBytes"] == limit
    assert "LANNER_LIMITS_INPUT_BYTES" in body["message"]
    # A form field is held to the same limit before any file is stored.
    form = stack.http.post(
        f"/executions/{ns}/{flow_id}",
        data={"name": "y" * (limit + 10)},
        files={"data": ("a.txt", b"a")},
    )
    assert form.status_code in (400, 413), form.text
    deep: Any = "leaf"
    for _ in range(100):
        deep = [deep]
    nested = stack.http.post(f"/executions/{ns}/{flow_id}", json={"name": deep})
    assert nested.status_code == 422 and "input_depth" in nested.json()["message"]
    unreadable = stack.http.post(
        f"/executions/{ns}/{flow_id}",
        content="[" * 100_000 + "]" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert unreadable.status_code == 422, unreadable.text
    # Only the execution below reaches the log: the refused ones were never written.
    ok = stack.run(ns, flow_id, {"name": "small"})
    stack.until_ended(ok["id"])
    stack.http.get("/executions/search", params={"flowId": flow_id})
    found = stack.search(namespace=ns, flowId=flow_id)
    assert found["total"] == 1, found


def test_bad_search_parameters_answer_4xx(stack: Stack) -> None:
    flows = stack.http.get("/flows/search", params={"page": 10_000_000_000, "size": 296})
    assert flows.status_code == 400, flows.text
    assert "max_result_window" in flows.json()["message"]
    deep = stack.http.get("/executions/search", params={"page": 1001, "size": 10})
    assert deep.status_code == 400 and "max_result_window" in deep.json()["message"]
    assert stack.http.get("/executions/search", params={"page": 1000, "size": 10}).is_success
    audit = stack.http.get("/audit", params={"page": 11, "size": 1000})
    assert audit.status_code == 400
    for path in ("/stats/executions/daily", "/executions/search", "/audit"):
        names = ("from", "to") if path == "/audit" else ("startDate", "endDate")
        odd = stack.http.get(path, params={names[1]: "2000-08-18T18:17:40.110+23:43"})
        assert odd.status_code == 200, (path, odd.text)
        invalid = stack.http.get(path, params={names[1]: "2000-08-18T18:17:40.110+25:43"})
        assert invalid.status_code == 422, (path, invalid.text)
        edge = stack.http.get(path, params={names[0]: "0001-01-01T00:00:00+23:59"})
        assert edge.status_code == 422, (path, edge.text)
    early = stack.http.get("/stats/executions/daily", params={"endDate": "0001-01-05T00:00:00"})
    assert early.status_code == 422
    mixed = stack.http.get(
        "/audit", params={"from": "2000-01-01T00:00:00", "to": "2000-01-01T00:00:00+05:00"}
    )
    assert mixed.status_code == 422 and "from" in mixed.json()["message"]


def test_file_paths_naming_a_folder_or_holding_a_nul_byte_answer_4xx(stack: Stack) -> None:
    ns, flow_id = _flow(stack)
    created = stack.http.post(f"/executions/{ns}/{flow_id}", files={"data": ("a.txt", b"a")}).json()
    uri: str = created["inputs"]["data"]
    execution = created["id"]
    folder = uri.rsplit("/", 2)[0]  # .../inputs
    for path in (folder, folder + "/"):
        response = stack.http.get(f"/executions/{execution}/file", params={"path": path})
        assert response.status_code == 404, response.text
    nul = stack.http.get(f"/executions/{execution}/file", params={"path": uri + "\x00x"})
    assert nul.status_code == 422, nul.text
