"""/api/v1/{tenant}/namespaces/{ns}/plugindefaults: a namespace's pluginDefaults.

A PUT is checked against every flow it would change (in the namespace and its children):
if one would no longer validate, nothing is written and the 422 names the flow and its
problems. Otherwise a NamespaceDefaultsSet event goes on `namespace-events`, and each
flow whose defaults in force changed gets a new revision recording them (see
streams/plugins/namespace/defaults.py), which the next execution runs.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError

from api.web.errors import ApiError
from api.web.services import Services, services
from schemas.flow import PluginDefault
from streams.core import validate_flow
from streams.plugins.namespace.defaults import NamespaceDefaultsSet
from streams.secrets.stored import NAMESPACE
from streams.writers.flows import Deployed

router = APIRouter(prefix="/namespaces", tags=["namespaces"])
Svc = Annotated[Services, Depends(services)]
_DEFAULTS: TypeAdapter[list[PluginDefault]] = TypeAdapter(list[PluginDefault])
DEFAULTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "pluginDefaults": {"type": "array", "items": {"type": "object"}}
                    },
                }
            },
            "application/x-yaml": {"schema": {"type": "string"}},
        },
    }
}


def _checked(namespace: str) -> None:
    if not NAMESPACE.match(namespace):
        raise ApiError(422, f"{namespace!r} is not a namespace")


def _answer(
    svc: Services, namespace: str, flows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    tenant = svc.settings.tenant_id
    own = svc.namespace_defaults.own(tenant, namespace)
    answer: dict[str, Any] = {
        "namespace": namespace,
        "pluginDefaults": [d.model_dump() for d in own.plugin_defaults] if own else [],
        "inForce": svc.namespace_defaults.in_force(tenant, namespace),
    }
    if flows is not None:
        answer["flows"] = flows
    return answer


@router.get("/{namespace}/plugindefaults", name="get_namespace_plugin_defaults")
def get_defaults(namespace: str, svc: Svc) -> dict[str, Any]:
    """The namespace's own pluginDefaults, and those in force for its flows (its own, then
    its parents'), most important first."""
    _checked(namespace)
    return _answer(svc, namespace)


def _parse(body: bytes, namespace: str) -> list[PluginDefault]:
    try:
        text = body.decode("utf-8")
        data = json.loads(text) if text.lstrip()[:1] in ("{", "[") else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ApiError(
            422, f"namespace {namespace}: the body is neither JSON nor YAML: {exc}"
        ) from None
    if isinstance(data, dict):
        data = data.get("pluginDefaults")
    if not isinstance(data, list):
        raise ApiError(
            422, f'namespace {namespace}: send {{"pluginDefaults": [{{type, values, forced}}]}}'
        )
    try:
        return _DEFAULTS.validate_python(data)
    except ValidationError as exc:
        problems = [
            f"pluginDefaults[{'.'.join(map(str, e['loc']))}]: {e['msg']}" for e in exc.errors()
        ]
        raise ApiError(422, f"namespace {namespace}: " + "; ".join(problems)) from None


def _affected(svc: Services, namespace: str) -> list[tuple[str, str, str]]:
    """(namespace, flow id, latest source) of every live flow under the namespace."""
    tenant = svc.settings.tenant_id
    found = []
    for key in svc.catalog.flow_keys():
        _tenant, flow_namespace, flow_id = key.split("/", 2)
        if _tenant != tenant or not (
            flow_namespace == namespace or flow_namespace.startswith(namespace + ".")
        ):
            continue
        history = svc.catalog.history(tenant, flow_namespace, flow_id)
        if history is None or history.deleted or history.latest not in history.revisions:
            continue
        found.append((flow_namespace, flow_id, history.revisions[history.latest]))
    return sorted(found)


def _set(svc: Services, namespace: str, defaults: list[PluginDefault]) -> list[dict[str, Any]]:
    tenant = svc.settings.tenant_id
    affected = _affected(svc, namespace)
    problems: list[str] = []
    for flow_namespace, flow_id, source in affected:
        in_force = svc.namespace_defaults.in_force(tenant, flow_namespace, (namespace, defaults))
        result = validate_flow(
            source, svc.registry, svc.settings.limits, namespace_defaults=in_force
        )
        if isinstance(result, list):
            named = "; ".join(str(p) for p in result[:5])
            problems.append(f"flow {flow_namespace}.{flow_id} would not validate: {named}")
    if problems:
        raise ApiError(
            422, f"namespace {namespace}: pluginDefaults refused: " + " | ".join(problems)
        )
    event = NamespaceDefaultsSet(
        tenant=tenant,
        namespace=namespace,
        plugin_defaults=defaults,
        time=dt.datetime.now(dt.UTC),
        actor=svc.actor,
    )
    partition, offset = svc.producer.send_and_wait(
        svc.topics.namespace_events, event.record_key, event.model_dump_json().encode()
    )
    svc.namespace_defaults.wait_for_record(
        partition, offset, svc.settings.read_your_writes_timeout_s
    )
    written = []
    for flow_namespace, flow_id, source in affected:
        deployed = svc.flows.deploy(source, svc.actor)
        if isinstance(deployed, Deployed):
            written.append(
                {
                    "namespace": flow_namespace,
                    "id": flow_id,
                    "revision": deployed.revision,
                    "outcome": deployed.outcome,
                }
            )
    return written


@router.put(
    "/{namespace}/plugindefaults",
    name="set_namespace_plugin_defaults",
    openapi_extra=DEFAULTS_BODY,
)
async def set_defaults(namespace: str, request: Request, svc: Svc) -> dict[str, Any]:
    """Set the namespace's pluginDefaults (an empty list clears them): flows they change
    get a new revision; the answer lists them."""
    _checked(namespace)
    defaults = _parse(await request.body(), namespace)
    flows = await run_in_threadpool(_set, svc, namespace, defaults)
    return _answer(svc, namespace, flows)
