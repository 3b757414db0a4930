"""/api/v1/{tenant}/namespaces/{ns}/kv: the namespace key-value store, as Kestra serves it.

Writes are KvSet/KvDeleted events on the tenant's `kv-events` topic, the very events the
`kv.Set`/`kv.Delete` tasks write (streams/plugins/kv), so a flow's `kv()` and `kv.Get`
see a value set here and the other way round. Reads come from a LiveKvView of that topic,
caught up after every write (read-your-writes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.web.errors import ApiError, not_found
from api.web.models import ANSWER
from api.web.models_namespaces import KvEntry, KvValue
from api.web.services import Services, services
from schemas.inputs import parse_duration
from streams.plugins.kv.events import KvDeleted, KvSet
from streams.secrets.stored import NAMESPACE

router = APIRouter(prefix="/namespaces", tags=["kv"])
Svc = Annotated[Services, Depends(services)]
# Kestra's rule for KV keys.
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# The body is read by set_value as it is (_value_of): described for the OpenAPI document.
KV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"description": "the value, as JSON"}},
            "text/plain": {
                "schema": {"type": "string", "description": "read as JSON when it parses"}
            },
        },
    }
}


def _checked(namespace: str, key: str | None = None) -> None:
    if not NAMESPACE.match(namespace):
        raise ApiError(422, f"{namespace!r} is not a namespace")
    if key is not None and not KEY.match(key):
        raise ApiError(
            422,
            f"KV key {key!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        )


def _type_of(value: Any) -> str:
    """Kestra's KV type names for a JSON value."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "NUMBER"
    if isinstance(value, dict):
        return "JSON"
    if isinstance(value, list):
        return "JSON"
    return "STRING"


def _entry(event: KvSet) -> dict[str, Any]:
    return {
        "key": event.key,
        "namespace": event.namespace,
        "type": _type_of(event.value),
        "updateDate": event.time.isoformat(),
        "expirationDate": event.expires.isoformat() if event.expires else None,
    }


def _write(svc: Services, event: KvSet | KvDeleted) -> None:
    partition, offset = svc.producer.send_and_wait(
        svc.topics.kv_events, event.record_key, event.model_dump_json().encode()
    )
    svc.kv.wait_for_record(partition, offset, svc.settings.read_your_writes_timeout_s)


def _value_of(body: bytes, content_type: str) -> Any:
    """A JSON body is the value as JSON (`42`, `{"a": 1}`, `"text"`); any other body is
    text, read as JSON when it parses (Kestra does the same) and as a string otherwise."""
    text = body.decode("utf-8", errors="strict")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if content_type.startswith("application/json"):
            raise ApiError(422, "the body is not JSON (send text/plain for a string)") from None
        return text


@router.get("/{namespace}/kv", name="list_kv_keys", response_model=list[KvEntry], **ANSWER)
def list_keys(namespace: str, svc: Svc) -> list[dict[str, Any]]:
    """Every live key of a namespace (its own, not its parents'), with type and dates."""
    _checked(namespace)
    now = dt.datetime.now(dt.UTC)
    return [_entry(e) for e in svc.kv.entries(svc.settings.tenant_id, namespace, now)]


@router.get("/{namespace}/kv/{key}", name="get_kv_value", response_model=KvValue, **ANSWER)
def get_value(namespace: str, key: str, svc: Svc) -> dict[str, Any]:
    """One key's value and type (404 when it is not set or has expired)."""
    _checked(namespace, key)
    found = svc.kv.get(svc.settings.tenant_id, namespace, key, dt.datetime.now(dt.UTC))
    if found is None:
        raise not_found(f"KV key {key} of namespace {namespace}")
    return {**_entry(found), "value": found.value}


@router.put(
    "/{namespace}/kv/{key}",
    name="set_kv_value",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Set (readable at once)"}},
    openapi_extra=KV_BODY,
)
async def set_value(
    namespace: str, key: str, request: Request, svc: Svc, ttl: str | None = None
) -> Response:
    """Set a key; `ttl` (ISO-8601 duration, e.g. PT1H) makes it expire."""
    _checked(namespace, key)
    body = await request.body()
    try:
        value = _value_of(body, request.headers.get("content-type", ""))
    except UnicodeDecodeError:
        raise ApiError(422, "the body is not UTF-8 text") from None
    now = dt.datetime.now(dt.UTC)
    expires = None
    if ttl is not None:
        try:
            expires = now + parse_duration(ttl)
        except ValueError as exc:
            raise ApiError(422, f"ttl {ttl!r}: {exc}") from None
    event = KvSet(
        tenant=svc.settings.tenant_id,
        namespace=namespace,
        key=key,
        value=value,
        expires=expires,
        time=now,
        actor=svc.actor,
    )
    await run_in_threadpool(_write, svc, event)
    return Response(status_code=204)


@router.delete(
    "/{namespace}/kv/{key}",
    name="delete_kv_value",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}},
)
def delete_value(namespace: str, key: str, svc: Svc) -> Response:
    _checked(namespace, key)
    if svc.kv.get(svc.settings.tenant_id, namespace, key, dt.datetime.now(dt.UTC)) is None:
        raise not_found(f"KV key {key} of namespace {namespace}")
    _write(
        svc,
        KvDeleted(
            tenant=svc.settings.tenant_id,
            namespace=namespace,
            key=key,
            time=dt.datetime.now(dt.UTC),
            actor=svc.actor,
        ),
    )
    return Response(status_code=204)
