"""The OpenAPI document clients are generated from (the web UI's among them): every
answer described, every error in the one ErrorBody shape, and the response models
passing the views' documents through unchanged."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.web.app import create_app
from api.web.models import ANSWER, ErrorBody
from api.web.models_executions import (
    ExecutionEventView,
    ExecutionPage,
    ExecutionView,
    LogLineView,
)
from api.web.models_flows import FlowRevision, FlowView
from api.web.models_ops import AuditEntry
from api.web.models_triggers import TriggerContext
from projections.audit import execution_event_doc, flow_event_doc
from projections.documents import api_view, execution_doc, flow_docs, log_doc
from projections.trigger_fold import trigger_context
from schemas.events import ExecutionCreated, FlowCreated, FlowDeleted
from schemas.execution import Attempt, Execution, StateEntry, TaskRun
from schemas.settings import LannerSettings
from schemas.states import State
from schemas.triggers import BackfillStarted, TriggerState
from schemas.worker import LogLine

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(LannerSettings()).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path} ({operation.get('operationId')})", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_success_answer_has_a_schema(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) >= 40, [name for name, _ in found]
    missing: list[str] = []
    for name, operation in found:
        successes = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
        if not successes:
            missing.append(f"{name}: no 2xx answer declared")
        for status, response in successes.items():
            content = response.get("content") or {}
            if status == "204":
                if content:
                    missing.append(f"{name} {status}: a 204 has no body, yet declares one")
                continue
            if not content:
                missing.append(f"{name} {status}: no content declared")
            for media_type, media in content.items():
                if not media.get("schema"):
                    missing.append(f"{name} {status} {media_type}: no schema")
            if not response.get("description"):
                missing.append(f"{name} {status}: no description")
    assert not missing, "\n".join(missing)


def test_every_operation_declares_its_errors_in_the_one_shape(document: dict[str, Any]) -> None:
    wrong: list[str] = []
    for name, operation in operations(document):
        for status in ("400", "401", "403", "404", "409", "413", "422", "500", "503"):
            response = operation["responses"].get(status)
            schema = (response or {}).get("content", {}).get("application/json", {}).get("schema")
            refs = json.dumps(schema)
            # A component that is ErrorBody or one of several shapes, ErrorBody among them.
            for component in re.findall(r'"#/components/schemas/([^"]+)"', refs):
                refs += json.dumps(document["components"]["schemas"][component])
            if name.startswith("GET /api/v1/health ") and status == "503":
                # The health report itself, with status DOWN (as probes expect).
                assert "#/components/schemas/Health" in refs
            elif schema is None or ERROR_REF not in refs:
                wrong.append(f"{name} {status}: {response}")
    assert not wrong, "\n".join(wrong[:20])
    # FastAPI's own {"detail": [...]} 422 is never what the API sends.
    assert "HTTPValidationError" not in json.dumps(document)


def test_the_document_is_valid_openapi_and_every_reference_resolves(
    document: dict[str, Any],
) -> None:
    from openapi_spec_validator import validate

    validate(document)
    names = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert names and names <= set(document["components"]["schemas"]), names


def test_operation_ids_are_unique_and_named_after_the_routes(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {"create_flow", "get_execution", "follow_logs", "webhook_post"} <= set(ids)


def test_streams_and_files_declare_their_media_type(document: dict[str, Any]) -> None:
    paths = document["paths"]
    expected = {
        ("/api/v1/executions/{execution_id}/follow", "text/event-stream"),
        ("/api/v1/logs/{execution_id}/follow", "text/event-stream"),
        ("/api/v1/executions/{execution_id}/file", "application/octet-stream"),
        ("/api/v1/logs/{execution_id}/download", "text/plain"),
        ("/api/v1/metrics", "text/plain"),
    }
    for path, media_type in expected:
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [media_type], path


# --- the models pass the views' documents through unchanged --------------------------------


def passed_through(model: Any, document: Any) -> Any:
    """The JSON a route declared with `model` sends for `document` (FastAPI's own path)."""
    app = FastAPI()

    @app.get("/", response_model=model, **ANSWER)
    def answer() -> Any:
        return document

    response = TestClient(app).get("/")
    assert response.status_code == 200, response.text
    return response.json()


def as_json(document: Any) -> Any:
    return json.loads(json.dumps(document, default=str))


def execution() -> Execution:
    run = TaskRun(
        id="r1",
        task_id="t",
        value="v",
        iteration=2,
        state=State.SUCCESS,
        history=(
            StateEntry(state=State.CREATED, date=T0),
            StateEntry(state=State.SUCCESS, date=T0),
        ),
        attempts=(Attempt(number=1, state=State.SUCCESS, start=T0, end=T0, worker_id="w1"),),
        outputs={"value": [1, 2.5, None, {"x": "y"}]},
    )
    return Execution(
        id="e1",
        tenant="main",
        namespace="company.team",
        flow_id="f",
        flow_revision=3,
        state=State.SUCCESS,
        history=(StateEntry(state=State.CREATED, date=T0),),
        inputs={"n": 1, "f": 1.0, "s": "x", "none": None},
        labels={"env": "prod"},
        outputs={"out": {"deep": [True]}},
        task_runs={"r1": run},
        trigger={"variables": {"a": 1}},
        correlation_id="e1",
        created=T0,
        ended=T0 + dt.timedelta(seconds=2, milliseconds=500),
        seq=7,
    )


@pytest.mark.parametrize("ended", [True, False])
def test_executions_pass_through_unchanged(ended: bool) -> None:
    state = execution() if ended else execution().model_copy(update={"ended": None})
    view = as_json(api_view(execution_doc(state)))
    assert passed_through(ExecutionView, view) == view
    page = {"results": [view], "total": 1}
    assert passed_through(ExecutionPage, page) == page
    as_of = {**view, "asOf": {"seq": 1, "time": T0.isoformat(), "lastSeq": 7}}
    assert passed_through(ExecutionView, as_of) == as_of


def test_events_logs_and_audit_pass_through_unchanged() -> None:
    created = ExecutionCreated(
        execution_id="e1",
        seq=1,
        time=T0,
        causation_id="c",
        correlation_id="e1",
        tenant="main",
        namespace="company.team",
        flow_id="f",
        flow_revision=1,
    )
    event = {"event_id": created.event_id, **created.model_dump(mode="json")}
    assert passed_through(list[ExecutionEventView], [event]) == [event]
    line = LogLine(
        tenant="main",
        namespace="company.team",
        flow_id="f",
        execution_id="e1",
        message="hello",
        time=T0,
    )
    logs = [as_json(log_doc(line)), as_json(log_doc(line.model_copy(update={"task_id": "t"})))]
    assert passed_through(list[LogLineView], logs) == logs
    flow_event = FlowCreated(
        event_id="x",
        tenant="main",
        namespace="n",
        flow_id="f",
        revision=1,
        time=T0,
        actor="me",
        source="id: f",
    )
    audit = [
        as_json(execution_event_doc(created, "company.team", "f")[2]),
        as_json(flow_event_doc(flow_event)[2]),
    ]
    assert passed_through(list[AuditEntry], audit) == audit


def test_flows_pass_through_unchanged() -> None:
    source = "id: f\nnamespace: n\ndescription: hi\nlabels:\n  a: b\ntasks: []\n"
    created = FlowCreated(
        event_id="x",
        tenant="main",
        namespace="n",
        flow_id="f",
        revision=1,
        time=T0,
        actor="me",
        source=source,
    )
    hidden = ("fulltext", "labelPairs", "event")
    view = {k: v for k, v in flow_docs(created).items() if k not in hidden}
    assert passed_through(FlowView, view) == view
    assert passed_through(list[FlowRevision], [{**view, "diff": ""}]) == [{**view, "diff": ""}]
    deleted = FlowDeleted(
        event_id="y", tenant="main", namespace="n", flow_id="f", revision=2, time=T0, actor="me"
    )
    gone = {k: v for k, v in flow_docs(deleted).items() if k not in hidden}
    assert gone["source"] is None and passed_through(FlowView, gone) == gone


def test_trigger_contexts_pass_through_unchanged() -> None:
    empty = TriggerState(tenant="main", namespace="n", flow_id="f", trigger_id="t", updated=T0)
    backfill = BackfillStarted(
        tenant="main",
        namespace="n",
        flow_id="f",
        trigger_id="t",
        time=T0,
        actor="me",
        backfill_id="b1",
        start=T0,
        end=T0,
        inputs={"x": 1},
        labels={"k": "v"},
    )
    busy = empty.model_copy(
        update={"backfill": backfill, "positions": {"topic/0": 3}, "fired": 2, "last_fire": T0}
    )
    for state in (empty, busy):
        context = as_json(trigger_context(state))
        assert passed_through(TriggerContext, context) == context


# --- errors in the one shape, without back ends ---------------------------------------------


def test_errors_without_back_ends_have_the_one_shape() -> None:
    # No lifespan (no `with`): the routes' services are missing, so a route that needs
    # them fails unexpectedly; that 500 speaks the same shape as every other error.
    client = TestClient(create_app(LannerSettings()), raise_server_exceptions=False)
    answers = {
        "unknown route": client.get("/api/v1/no/such/route"),
        "method not allowed": client.patch("/api/v1/flows/search"),
        "unexpected": client.get("/api/v1/flows/search"),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {"unknown route": 404, "method not allowed": 405, "unexpected": 500}
    for name, response in answers.items():
        body = ErrorBody.model_validate(response.json())
        assert body.message, name
    assert "GET /api/v1/flows/search" in answers["unexpected"].json()["message"]


def test_an_error_detail_that_is_not_in_the_shape_fails_where_it_is_raised() -> None:
    from pydantic import ValidationError

    from api.web.errors import ApiError

    with pytest.raises(ValidationError):
        ApiError(422, "bad", problem="singular")
    assert isinstance(ApiError(409, "x", seq=3).body, BaseModel)
