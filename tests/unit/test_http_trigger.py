"""The polling HTTP trigger: its model and checks, its condition and outputs, and the
poller's fires against a local server (no broker: the log is faked)."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from schemas.commands import CreateExecution
from schemas.events import FlowCreated
from schemas.triggers import (
    TRIGGER_EVENT_ADAPTER,
    ListenerRecovered,
    TriggerDisabled,
    TriggerEvent,
    TriggerFailed,
    TriggerFired,
)
from schemas.triggers.http import HttpTrigger
from streams.core.validation import FlowProblem, validate_flow
from streams.flow_catalog import FlowSources
from streams.log.producer import LogProducer
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry
from streams.triggers import http_poll
from streams.triggers.flow_index import FlowTriggerIndex
from streams.triggers.http_poller import HttpTriggerPoller
from streams.triggers.view import TriggerStates
from streams.writers.executions import ExecutionWriter

REGISTRY = PluginRegistry.discover()
TOPICS = Topics("unit.")
T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)

KESTRA_HTTP_LISTEN = """
id: http-listen
namespace: io.kestra.tests

triggers:
  - id: http
    type: io.kestra.plugin.fs.http.Trigger
    uri: https://api.chucknorris.io/jokes/random
    responseCondition: "{{ response.statusCode == 200 }}"
    interval: PT10S

tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Kestra team wishes you a great day!
"""


def _flow(trigger: str) -> str:
    return (
        "id: f\nnamespace: company.team\n"
        "tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        f"triggers:\n  - id: http\n{trigger}"
    )


def _problems(source: str) -> list[str]:
    result = validate_flow(source, REGISTRY)
    if not isinstance(result, list):
        return []
    return [f"{p.path}: {p.message}" for p in result if isinstance(p, FlowProblem)]


def test_kestra_http_listen_validates_under_both_names() -> None:
    assert _problems(KESTRA_HTTP_LISTEN) == []
    current = KESTRA_HTTP_LISTEN.replace("fs.http.Trigger", "core.http.Trigger")
    assert _problems(current) == []
    encrypted = KESTRA_HTTP_LISTEN.replace("    interval:", "    encryptBody: true\n    interval:")
    assert _problems(encrypted) == []


@pytest.mark.parametrize(
    ("lines", "field", "words"),
    [
        ("    uri: http://x\n    interval: soon\n", "interval", "ISO-8601"),
        ("    uri: http://x\n    interval: PT0.5S\n", "interval", "shorter"),
        ("    uri: ftp://x\n", "uri", "http://"),
        ("    uri: http://x\n    responseCondition: '{{ response.statusCode < }}'\n", "", "syntax"),
        ("    uri: http://x\n    body: a\n    formData: {a: 1}\n", "body", "not both"),
        ("    uri: http://x\n    cron: '* * * * *'\n", "", "cron"),
        ("    interval: PT1S\n", "", "uri"),
        ("    uri: http://x\n    options: {basicAuthUser: me}\n", "", "basicAuthUser"),
    ],
)
def test_refused_http_triggers_name_the_problem(lines: str, field: str, words: str) -> None:
    source = _flow("    type: io.kestra.plugin.core.http.Trigger\n" + lines)
    problems = _problems(source)
    assert any(field in p and words in p for p in problems), problems


def test_defaults_are_kestras() -> None:
    trigger = HttpTrigger(id="h", type="io.kestra.plugin.core.http.Trigger", uri="http://x")
    assert trigger.interval == "PT60S"
    assert trigger.method == "GET"
    assert trigger.responseCondition == "{{ response.statusCode < 400 }}"


def test_slots_cut_time_by_the_interval() -> None:
    interval = dt.timedelta(seconds=10)
    assert http_poll.slot_of(T0 + dt.timedelta(seconds=7), interval) == T0
    assert http_poll.slot_of(T0 + dt.timedelta(seconds=10), interval) == T0 + interval


def _response(
    code: int = 200, body: str | None = '{"id": "x1", "price": 100}'
) -> http_poll.Response:
    return http_poll.Response("http://h/p", code, {"content-type": ["application/json"]}, body)


@pytest.mark.parametrize(
    ("condition", "response", "met"),
    [
        (None, _response(200), True),
        (None, _response(404), False),
        ("{{ response.statusCode == 200 }}", _response(201), False),
        ("{{ json(response.body).price <= 110 }}", _response(), True),
        ("{{ json(response.body).id is not null }}", _response(), True),
        ("{{ response.headers['content-type'][0] }}", _response(), True),
        ("{{ response.body }}", _response(body=None), False),
        ("{{ response.body }}", _response(body=""), False),
    ],
)
def test_the_condition_sees_the_response(
    condition: str | None, response: http_poll.Response, met: bool
) -> None:
    extra: dict[str, Any] = {} if condition is None else {"responseCondition": condition}
    trigger = HttpTrigger(
        id="h", type="io.kestra.plugin.core.http.Trigger", uri="http://x", **extra
    )
    assert http_poll.condition_met(trigger, response, {}, T0) is met


def test_trigger_variables_are_kestras_request_output() -> None:
    trigger = HttpTrigger(id="h", type="io.kestra.plugin.core.http.Trigger", uri="http://x")
    variables = http_poll.trigger_variables(trigger, _response())
    assert variables == {
        "id": "h",
        "type": "io.kestra.plugin.core.http.Trigger",
        "uri": "http://h/p",
        "code": 200,
        "headers": {"content-type": ["application/json"]},
        "body": '{"id": "x1", "price": 100}',
    }


# --- the poller against a local server ------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.code = 200
        self.body = b'{"price": 100}'
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.calls += 1
                self.send_response(outer.code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/price"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


class FakeLog:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes]] = []

    def send_and_wait(
        self, topic: str, key: str, value: bytes, headers: Any = None, *, timeout_s: float = 30.0
    ) -> tuple[int, int]:
        self.records.append((topic, key, value))
        return 0, len(self.records) - 1

    def commands(self) -> list[CreateExecution]:
        return [
            CreateExecution.model_validate_json(v)
            for t, _, v in self.records
            if t == TOPICS.commands
        ]

    def events(self) -> list[TriggerEvent]:
        return [
            TRIGGER_EVENT_ADAPTER.validate_json(v)
            for t, _, v in self.records
            if t == TOPICS.trigger_events
        ]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def _http_lines(url: str) -> str:
    return f"    type: io.kestra.plugin.core.http.Trigger\n    uri: {url}\n    interval: PT10S\n"


def _poller(
    url: str, states: TriggerStates, condition: str | None = None
) -> tuple[HttpTriggerPoller, FakeLog, Clock]:
    catalog = FlowSources(REGISTRY)
    extra = "" if condition is None else f'    responseCondition: "{condition}"\n'
    source = _flow(_http_lines(url) + extra)
    catalog.apply(
        FlowCreated(
            event_id="f1",
            tenant="main",
            namespace="company.team",
            flow_id="f",
            revision=1,
            time=T0,
            actor="me",
            source=source,
        )
    )
    log = FakeLog()
    producer = cast(LogProducer, log)
    execution_writer = ExecutionWriter(producer, catalog, TOPICS, "main")
    clock = Clock()
    poller = HttpTriggerPoller(
        "main", catalog, states, execution_writer, producer, TOPICS, clock=clock
    )
    return poller, log, clock


def _poll(poller: HttpTriggerPoller) -> int:
    started = poller.poll_due()
    for future in started:
        future.result(timeout=10)
    return len(started)


def test_a_met_condition_fires_once_per_slot_with_the_response(server: _Server) -> None:
    states = TriggerStates()
    poller, log, clock = _poller(server.url, states)
    assert _poll(poller) == 1
    assert _poll(poller) == 0  # the same slot: not polled again
    (command,) = log.commands()
    assert command.trigger is not None
    assert command.trigger["code"] == 200
    assert command.trigger["body"] == '{"price": 100}'
    assert command.trigger["uri"] == server.url
    (fired,) = log.events()
    assert isinstance(fired, TriggerFired)
    assert fired.scheduled == T0 and fired.execution_id == command.execution_id
    assert fired.next_fire == T0 + dt.timedelta(seconds=10)
    for event in log.events():
        states.apply(event)
    # A restarted poller (nothing in memory) sees the slot recorded: no second poll.
    again, again_log, again_clock = _poller(server.url, states)
    assert _poll(again) == 0
    again_clock.now = clock.now = T0 + dt.timedelta(seconds=10)
    assert _poll(again) == 1
    assert again_log.commands()[0].execution_id != command.execution_id
    assert server.calls == 2


def test_the_same_slot_polled_again_after_a_crash_fires_the_same_execution(server: _Server) -> None:
    first, first_log, _ = _poller(server.url, TriggerStates())
    second, second_log, _ = _poller(server.url, TriggerStates())  # never saw the fire
    _poll(first)
    _poll(second)
    assert first_log.commands()[0].execution_id == second_log.commands()[0].execution_id


def test_a_false_condition_fires_nothing_and_records_nothing(server: _Server) -> None:
    server.code = 503
    poller, log, _ = _poller(server.url, TriggerStates())
    assert _poll(poller) == 1
    assert log.records == []


def test_failures_are_recorded_once_with_the_reason_then_recovered(server: _Server) -> None:
    states = TriggerStates()
    poller, log, clock = _poller(server.url, states, "{{ json(response.body).missing.deeper }}")
    _poll(poller)
    clock.now += dt.timedelta(seconds=10)
    _poll(poller)
    failed = [e for e in log.events() if isinstance(e, TriggerFailed)]
    assert len(failed) == 1 and "missing" in failed[0].error
    for event in log.events():
        states.apply(event)
    state = states.get("main/company.team/f/http")
    assert state is not None and state.last_error == failed[0].error
    server.code = 500
    poller.specs.catalog.apply(
        FlowCreated(
            event_id="f2",
            tenant="main",
            namespace="company.team",
            flow_id="f",
            revision=2,
            time=T0,
            actor="me",
            source=_flow(_http_lines(server.url)),
        )
    )
    clock.now += dt.timedelta(seconds=10)
    _poll(poller)
    assert isinstance(log.events()[-1], ListenerRecovered)


def test_an_unreachable_endpoint_is_a_recorded_failure() -> None:
    poller, log, _ = _poller("http://127.0.0.1:9/nothing", TriggerStates())
    _poll(poller)
    (failed,) = log.events()
    assert isinstance(failed, TriggerFailed) and "127.0.0.1:9" in failed.error


def test_a_disabled_trigger_does_not_poll(server: _Server) -> None:
    states = TriggerStates()
    states.apply(
        TriggerDisabled(
            tenant="main", namespace="company.team", flow_id="f", trigger_id="http", time=T0
        )
    )
    poller, _log, _ = _poller(server.url, states)
    assert _poll(poller) == 0 and server.calls == 0


def test_a_body_over_the_limit_fails_the_poll(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_poll, "MAX_BODY_BYTES", 10)
    poller, log, _ = _poller(server.url, TriggerStates())
    _poll(poller)
    (failed,) = log.events()
    assert isinstance(failed, TriggerFailed) and "bigger than 10 bytes" in failed.error
    assert log.commands() == []


def test_stop_after_is_found_for_the_http_trigger() -> None:
    catalog = FlowSources(REGISTRY)
    source = _flow(_http_lines("http://x") + "    stopAfter: [SUCCESS]\n")
    catalog.apply(
        FlowCreated(
            event_id="f1",
            tenant="main",
            namespace="company.team",
            flow_id="f",
            revision=1,
            time=T0,
            actor="me",
            source=source,
        )
    )
    assert FlowTriggerIndex(catalog).stop_after("main", "company.team", "f", "http") == ["SUCCESS"]
