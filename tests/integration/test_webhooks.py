"""Webhook triggers through the real API on the real Kafka broker and Elasticsearch, with
the executor and worker as processes (tests/integration/stack.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from schemas.settings import Limits
from schemas.triggers import (
    TRIGGER_EVENT_ADAPTER,
    TriggerDisabled,
    TriggerEnabled,
    TriggerFailed,
    TriggerFired,
)
from streams.log.producer import LogProducer
from streams.log.reader import read_all
from tests.harness.common import free_ports
from tests.integration.stack import Stack, wait_for

KEY = "a-secret-key"
ECHO_FLOW = """\
id: {id}
namespace: {ns}
labels:
  team: hooks
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger | json }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
"""
WAIT_FLOW = """\
id: {id}
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT{sleep}S
  - id: double
    type: io.kestra.plugin.core.debug.Return
    format: "twice {{{{ trigger.body.n * 2 }}}}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ trigger.body.fail ?? false }}}}"
outputs:
  - id: doubled
    type: STRING
    value: "{{{{ outputs.double.value }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
    wait: true
    returnOutputs: {outputs}
"""


@pytest.fixture
def ns() -> str:
    return f"hooks.t{secrets.token_hex(3)}"


def hook_url(ns: str, flow_id: str, key: str = KEY) -> str:
    return f"/executions/webhook/{ns}/{flow_id}/{key}"


def deploy(stack: Stack, source: str) -> None:
    """Deploy; 202 is fine here: the webhook reads the API's flow catalog (which the write
    waited for), not the search view that a loaded machine may be slow to refresh."""
    response = stack.http.post(
        "/flows", content=source, headers={"content-type": "application/x-yaml"}
    )
    assert response.status_code in (200, 202), response.text


def count_executions(stack: Stack, ns: str, flow_id: str) -> int:
    total: int = stack.search(namespace=ns, flowId=flow_id)["total"]
    return total


def until_output(stack: Stack, execution_id: str) -> dict[str, Any]:
    ended = stack.until_ended(execution_id)
    assert ended["state"]["current"] == "SUCCESS", ended
    (run,) = [r for r in ended["taskRunList"] if r["taskId"] == "out"]
    value: dict[str, Any] = json.loads(run["outputs"]["value"])
    return value


def fired_events(stack: Stack) -> list[TriggerFired]:
    found: list[TriggerFired] = []
    for record in read_all(stack.settings.kafka_bootstrap, stack.topics.trigger_events):
        event = TRIGGER_EVENT_ADAPTER.validate_json(record.value)
        if isinstance(event, TriggerFired):
            found.append(event)
    return found


def test_a_webhook_starts_its_flow_with_body_headers_and_parameters(stack: Stack, ns: str) -> None:
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    answer = stack.http.post(
        hook_url(ns, "echo"),
        params=[("name", "john"), ("age", "12"), ("age", "13")],
        json={"a": 1, "b": True},
        headers={"x-source": "ci"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Kestra's WebhookResponse: the id at once, the trigger's variables, state CREATED.
    assert (body["namespace"], body["flowId"], body["state"]["current"]) == (ns, "echo", "CREATED")
    assert body["trigger"]["id"] == "hook"
    assert body["trigger"]["variables"]["parameters"] == {"name": ["john"], "age": ["12", "13"]}
    assert {"key": "team", "value": "hooks"} in body["labels"]

    rendered = until_output(stack, body["id"])
    assert rendered["body"] == {"a": 1, "b": True}
    assert rendered["headers"]["x-source"] == ["ci"]
    assert rendered["headers"]["content-type"] == ["application/json"]
    assert rendered["parameters"] == {"name": ["john"], "age": ["12", "13"]}
    execution = stack.http.get(f"/executions/{body['id']}").json()
    assert execution["trigger"]["body"] == {"a": 1, "b": True}
    assert execution["trigger"]["type"] == "io.kestra.plugin.core.trigger.Webhook"
    events = stack.http.get(f"/executions/{body['id']}/events").json()
    assert events[0]["type"] == "ExecutionCreated" and events[0]["actor"] == "trigger:hook"

    # The triggers view learns of the fire from trigger-events.
    (fired,) = [e for e in fired_events(stack) if e.execution_id == body["id"]]
    assert (fired.namespace, fired.flow_id, fired.trigger_id) == (ns, "echo", "hook")
    assert fired.source["webhook"] == "POST"


def test_text_bodies_arrays_and_every_method(stack: Stack, ns: str) -> None:
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    sent = {
        "POST": ("bla", "bla"),
        "PUT": ('[{"a": 1}]', [{"a": 1}]),
        "GET": (None, None),
    }
    ids = {}
    for method, (content, _expected) in sent.items():
        answer = stack.http.request(
            method, hook_url(ns, "echo"), content=content, headers={"content-type": "text/plain"}
        )
        assert answer.status_code == 200, (method, answer.text)
        ids[method] = answer.json()["id"]
    for method, (_content, expected) in sent.items():
        assert until_output(stack, ids[method])["body"] == expected, method
    # Other methods are not webhooks.
    assert stack.http.delete(hook_url(ns, "echo")).status_code == 405


def test_wait_and_return_outputs_answer_when_the_flow_ends(stack: Stack, ns: str) -> None:
    deploy(stack, WAIT_FLOW.format(id="waited", ns=ns, key=KEY, sleep="0.2", outputs="true"))
    answer = stack.http.post(hook_url(ns, "waited"), json={"n": 21})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"doubled": "twice 42"}

    deploy(stack, WAIT_FLOW.format(id="whole", ns=ns, key=KEY, sleep="0.1", outputs="false"))
    answer = stack.http.post(hook_url(ns, "whole"), json={"n": 2})
    assert answer.status_code == 200, answer.text
    ended = answer.json()
    assert ended["state"]["current"] == "SUCCESS" and ended["outputs"] == {"doubled": "twice 4"}
    # A failed execution answers 500 with its final state, as Kestra does.
    answer = stack.http.post(hook_url(ns, "whole"), json={"n": 2, "fail": True})
    assert answer.status_code == 500, answer.text
    assert answer.json()["state"]["current"] == "FAILED"


def test_a_wrong_key_or_unknown_flow_is_404_alike_and_starts_nothing(stack: Stack, ns: str) -> None:
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    answers = [
        stack.http.post(hook_url(ns, "echo", "a-secret-kez"), json={"a": 1}),
        stack.http.post(hook_url(ns, "echo", KEY[:-1]), json={"a": 1}),
        stack.http.get(hook_url(ns, "echo", KEY + "x")),
        stack.http.post(hook_url(ns, "no-such-flow"), json={"a": 1}),
        stack.http.put(hook_url("no.such.namespace", "echo")),
        stack.http.post(
            f"http://127.0.0.1:{stack.settings.api_port}/api/v1/nosuchtenant"
            + hook_url(ns, "echo"),
            json={"a": 1},
        ),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert len({a.content for a in answers}) == 1, [a.text for a in answers]
    assert answers[0].json() == {"message": "webhook not found"}
    # Nothing started: once a right call's execution is searchable, it is the only one.
    good = stack.http.post(hook_url(ns, "echo"), json={"a": 1}).json()["id"]
    stack.until_ended(good)
    wait_for(lambda: count_executions(stack, ns, "echo") >= 1, 10, "the good execution")
    time.sleep(1.2)  # past a search refresh, so anything else written would show
    assert count_executions(stack, ns, "echo") == 1


def test_the_tenant_path_form(stack: Stack, ns: str) -> None:
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    tenant = stack.settings.tenant_id
    answer = stack.http.post(
        f"http://127.0.0.1:{stack.settings.api_port}/api/v1/{tenant}" + hook_url(ns, "echo"),
        params={"via": "tenant"},
        json={"a": 2},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenantId"] == tenant
    assert until_output(stack, answer.json()["id"])["parameters"] == {"via": ["tenant"]}


def test_disabled_flows_and_triggers_start_nothing(stack: Stack, ns: str) -> None:
    disabled_flow = ECHO_FLOW.format(id="off", ns=ns, key=KEY) + "disabled: true\n"
    deploy(stack, disabled_flow)
    answer = stack.http.post(hook_url(ns, "off"), json={})
    assert answer.status_code == 409 and "disabled" in answer.json()["message"]
    deploy(stack, ECHO_FLOW.format(id="trig_off", ns=ns, key=KEY) + "    disabled: true\n")
    answer = stack.http.post(hook_url(ns, "trig_off"), json={})
    assert answer.status_code == 409 and "trigger hook" in answer.json()["message"]

    # An operator's TriggerDisabled (trigger-events) holds the webhook until enabled.
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    assert stack.http.post(hook_url(ns, "echo"), json={}).status_code == 200
    common = {
        "tenant": stack.settings.tenant_id,
        "namespace": ns,
        "flow_id": "echo",
        "trigger_id": "hook",
        "actor": "operator",
    }
    with LogProducer(stack.settings.kafka_bootstrap) as producer:
        event: TriggerDisabled | TriggerEnabled = TriggerDisabled(
            time=dt.datetime.now(dt.UTC), reason="maintenance", **common
        )
        producer.send_and_wait(
            stack.topics.trigger_events, event.key, event.model_dump_json().encode()
        )
        refused = wait_for(
            lambda: (a := stack.http.post(hook_url(ns, "echo"), json={})).status_code == 409 and a,
            10,
            "the disable to be seen",
        )
        assert "maintenance" in refused.json()["message"]
        event = TriggerEnabled(time=dt.datetime.now(dt.UTC), **common)
        producer.send_and_wait(
            stack.topics.trigger_events, event.key, event.model_dump_json().encode()
        )
    wait_for(
        lambda: stack.http.post(hook_url(ns, "echo"), json={}).status_code == 200,
        10,
        "the enable to be seen",
    )


def test_conditions_answer_204_and_start_nothing(stack: Stack, ns: str) -> None:
    deploy(
        stack,
        ECHO_FLOW.format(id="cond", ns=ns, key=KEY)
        + """\
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{ trigger.body.hello == 'world' }}"
""",
    )
    refused = stack.http.post(hook_url(ns, "cond"), json={"hello": "webhook"})
    assert refused.status_code == 204 and refused.content == b""
    accepted = stack.http.post(hook_url(ns, "cond"), json={"hello": "world"})
    assert accepted.status_code == 200, accepted.text
    stack.until_ended(accepted.json()["id"])
    wait_for(lambda: count_executions(stack, ns, "cond") >= 1, 10, "the execution")
    time.sleep(1.2)
    assert count_executions(stack, ns, "cond") == 1


INPUTS_FLOW = """\
id: {id}
namespace: {ns}
inputs:
  - id: count
    type: INT
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.count + 1 }}}} from {{{{ trigger.headers['x-from'][0] }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {key}
    inputs:
      count: "{{{{ trigger.body.count }}}}"
"""


def test_trigger_inputs_are_rendered_from_the_request(stack: Stack, ns: str) -> None:
    deploy(stack, INPUTS_FLOW.format(id="counted", ns=ns, key=KEY))
    answer = stack.http.post(hook_url(ns, "counted"), json={"count": 41}, headers={"x-from": "ci"})
    assert answer.status_code == 200, answer.text
    ended = stack.until_ended(answer.json()["id"])
    assert ended["inputs"] == {"count": 41}
    (run,) = ended["taskRunList"]
    assert run["outputs"]["value"] == "42 from ci"
    # Inputs that do not fit the flow: 422, nothing started, the failure on trigger-events.
    refused = stack.http.post(
        hook_url(ns, "counted"), json={"count": "many"}, headers={"x-from": "ci"}
    )
    assert refused.status_code == 422, refused.text
    assert "count" in refused.json()["message"]
    failures = [
        e
        for record in read_all(stack.settings.kafka_bootstrap, stack.topics.trigger_events)
        if isinstance(e := TRIGGER_EVENT_ADAPTER.validate_json(record.value), TriggerFailed)
        and e.namespace == ns
    ]
    assert len(failures) == 1 and failures[0].trigger_id == "hook"


@pytest.fixture(scope="module")
def small_api(stack: Stack) -> Iterator[httpx.Client]:
    """A second API on the same log and views, with small limits (bodies, waits) and
    tokens required: a webhook needs none (its key is its secret)."""
    from api.web.app import create_app

    (port,) = free_ports(1)
    # SECRET_<NAME> of the API's environment, as a worker reads them (base64): the
    # environment the edge read, handed in with the settings.
    secret = base64.b64encode(b"from-a-secret").decode()
    settings = stack.settings.model_copy(
        update={
            "api_port": port,
            "auth": True,
            "limits": Limits(request_body_bytes=4096, webhook_wait_seconds=1.0),
            "environ": {**stack.settings.environ, "SECRET_WEBHOOK_KEY": secret},
        }
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, "the second API to start")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as client:
        assert client.get("/flows/search").status_code == 401
        yield client
    server.should_exit = True
    thread.join(timeout=20)


def test_a_body_over_the_limit_is_413_and_starts_nothing(
    stack: Stack, small_api: httpx.Client, ns: str
) -> None:
    deploy(stack, ECHO_FLOW.format(id="echo", ns=ns, key=KEY))
    big = b"x" * 5000
    declared = small_api.post(hook_url(ns, "echo"), content=big)
    assert declared.status_code == 413, declared.text
    assert "LANNER_LIMITS_REQUEST_BODY_BYTES" in declared.json()["message"]

    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        # Chunked (no Content-Length): the server stops reading past the limit.
        for _ in range(1000):
            sent.append(1024)
            yield b"y" * 1024

    chunked = small_api.put(hook_url(ns, "echo"), content=chunks())
    assert chunked.status_code == 413, chunked.text
    fits = small_api.post(hook_url(ns, "echo"), content=b"z" * 3000)
    assert fits.status_code == 200, fits.text
    stack.until_ended(fits.json()["id"])
    wait_for(lambda: count_executions(stack, ns, "echo") >= 1, 10, "the execution")
    time.sleep(1.2)
    assert count_executions(stack, ns, "echo") == 1


def test_a_wait_past_its_limit_answers_504_with_the_execution(
    stack: Stack, small_api: httpx.Client, ns: str
) -> None:
    deploy(stack, WAIT_FLOW.format(id="slow", ns=ns, key=KEY, sleep="3", outputs="true"))
    started = time.monotonic()
    answer = small_api.post(hook_url(ns, "slow"), json={"n": 1})
    assert answer.status_code == 504, answer.text
    assert time.monotonic() - started < 2.5
    body = answer.json()
    assert "LANNER_LIMITS_WEBHOOK_WAIT_SECONDS" in body["message"]
    # The execution goes on; the answer says which one to follow.
    assert stack.until_ended(body["id"])["state"]["current"] == "SUCCESS"


def test_webhook_to_execution_created_latency(stack: Stack, ns: str) -> None:
    """Printed, not asserted: from the call to its answer, and to the executor's
    ExecutionCreated on the log (its record's timestamp, same machine clock)."""
    deploy(stack, ECHO_FLOW.format(id="fast", ns=ns, key=KEY))
    for _ in range(5):  # warm up the route, the producer and the views
        stack.http.post(hook_url(ns, "fast"), json={"warm": True})
    answered: list[float] = []
    started_at: dict[str, float] = {}
    deadline = time.monotonic() + 60
    for i in range(40):
        if time.monotonic() > deadline:
            break
        wall, started = time.time(), time.perf_counter()
        answer = stack.http.post(hook_url(ns, "fast"), json={"i": i})
        answered.append(time.perf_counter() - started)
        started_at[answer.json()["id"]] = wall
        time.sleep(0.02)  # one at a time: latency, not throughput
    created: dict[str, float] = {}

    def all_created() -> bool:
        for record in read_all(stack.settings.kafka_bootstrap, stack.topics.execution_events):
            if record.key in started_at and record.key not in created:
                created[record.key] = record.timestamp_ms / 1000 - started_at[record.key]
        return len(created) == len(started_at)

    wait_for(all_created, 90, "every ExecutionCreated")
    plain: list[float] = []
    for _ in range(10):  # the API's own create (it waits for the view) for comparison
        started = time.perf_counter()
        stack.http.post(f"/executions/{ns}/fast")
        plain.append(time.perf_counter() - started)
    refused: list[float] = []
    for _ in range(20):  # the same route without the log: a wrong key
        started = time.perf_counter()
        stack.http.post(hook_url(ns, "fast", "wrong"), json={"i": 0})
        refused.append(time.perf_counter() - started)
    ms = sorted(v * 1000 for v in created.values())
    print(
        f"\nwebhook over {len(answered)} calls: answered p50 "
        f"{statistics.median(answered) * 1000:.1f} ms; ExecutionCreated on the log p50 "
        f"{statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms; "
        f"POST /executions (waits for the view) p50 {statistics.median(plain) * 1000:.1f} ms; "
        f"a wrong key's 404 p50 {statistics.median(refused) * 1000:.1f} ms"
    )
    assert len(answered) >= 10


def test_a_key_rendered_from_the_flow_or_a_secret(
    stack: Stack, small_api: httpx.Client, ns: str
) -> None:
    deploy(stack, ECHO_FLOW.format(id="by_flow", ns=ns, key='"{{ flow.id }}-key"'))
    answer = stack.http.get(hook_url(ns, "by_flow", "by_flow-key"))
    assert answer.status_code == 200, answer.text
    assert stack.http.get(hook_url(ns, "by_flow", "{{ flow.id }}-key")).status_code == 404

    deploy(stack, ECHO_FLOW.format(id="by_secret", ns=ns, key="\"{{ secret('WEBHOOK_KEY') }}\""))
    answer = small_api.post(hook_url(ns, "by_secret", "from-a-secret"), json={"a": 1})
    assert answer.status_code == 200, answer.text
    assert until_output(stack, answer.json()["id"])["body"] == {"a": 1}
    # The main API has no such secret: the key renders to nothing, the webhook is absent.
    assert stack.http.post(hook_url(ns, "by_secret", "from-a-secret")).status_code == 404
