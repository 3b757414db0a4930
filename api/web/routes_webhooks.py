"""/api/v1/executions/webhook/{namespace}/{flowId}/{key}: Kestra's Webhook trigger.

GET, POST and PUT start an execution of the flow whose webhook trigger has that key. No
API token is asked for (as in Kestra, the key is the webhook's only secret), so: a wrong
key and an unknown flow (or tenant) give the very same 404; the key is compared in
constant time; a body over LANNER_LIMITS_REQUEST_BODY_BYTES is refused (413) without
being read whole, as on every route (api/web/body_limit.py). Each fire records
TriggerFired on trigger-events (the triggers view).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from api.web import webhook_requests as hooks
from api.web.errors import ApiError
from api.web.follow import until_ended
from api.web.models_triggers import WEBHOOK_ANSWERS
from api.web.services import Services
from api.web.tenants import SCOPE_KEY, TenantRegistry
from schemas.flow import Flow
from schemas.settings import LannerSettings
from schemas.triggers import TriggerFailed, TriggerFired, trigger_key
from schemas.triggers.webhook import WebhookTrigger
from streams.core import ExpressionError
from streams.log.admin import shared_admin
from streams.log.topics import Topics
from streams.secrets.environment import load_secrets
from streams.secrets.stored import SecretCipher, namespace_secrets
from streams.triggers.view import LiveTriggerStates
from streams.writers.executions import InvalidInputs, UnknownFlow, new_id

router = APIRouter(prefix="/executions", tags=["webhooks"])
log = logging.getLogger("lanner.api.webhooks")
# One answer for an unknown tenant, flow or key: the caller learns nothing from it.
NOT_FOUND = "webhook not found"
ABSENT_TENANT_TTL_S = 30.0
ABSENT_TENANTS_KEPT = 10_000


class WebhookViews:
    """Per API process: each tenant's trigger states (an operator's disable) and which
    tenants exist. A webhook carries no token, so it may not create a tenant's topics."""

    def __init__(self, settings: LannerSettings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        # SECRET_<NAME> of the API's environment, read once here at the edge.
        self.env_secrets = load_secrets(environ)
        self._lock = threading.Lock()
        self._states: dict[str, LiveTriggerStates] = {}
        self._tenants: set[str] = {settings.tenant_id}
        self._absent: dict[str, float] = {}

    def tenant_exists(self, tenant: str) -> bool:
        if tenant in self._tenants:
            return True
        now = time.monotonic()
        with self._lock:
            if self._absent.get(tenant, 0.0) > now:
                return False
        try:
            settings = self.settings.for_tenant(tenant)
        except ValueError:
            return False
        wanted = Topics(settings.full_topic_prefix).flow_events
        try:
            listed = shared_admin(settings.kafka_bootstrap).list_topics(topic=wanted, timeout=5.0)
        except KafkaException:
            raise ApiError(503, "the log cannot be reached to find the webhook's tenant") from None
        found = listed.topics.get(wanted)
        with self._lock:
            if found is None or found.error is not None:
                # Remembered a while, so made-up tenants cost one look-up each, not one a call.
                if len(self._absent) >= ABSENT_TENANTS_KEPT:
                    self._absent.clear()
                self._absent[tenant] = now + ABSENT_TENANT_TTL_S
                return False
            self._tenants.add(tenant)
        return True

    def states(self, svc: Services) -> LiveTriggerStates:
        tenant = svc.settings.tenant_id
        with self._lock:
            found = self._states.get(tenant)
            if found is None:
                found = LiveTriggerStates(svc.settings.kafka_bootstrap, svc.topics).start()
                # The first webhook of a tenant sees the disables recorded before it
                # (bounded; under the lock, so a second first call does not skip it).
                found.catch_up(svc.settings.read_your_writes_timeout_s)
                self._states[tenant] = found
        return found

    def secrets(self, svc: Services, namespace: str) -> dict[str, str]:
        """What secret('NAME') means in a key: as on a worker (namespace_secrets)."""
        key = svc.settings.secret_key
        cipher = (
            SecretCipher(key.get_secret_value(), svc.settings.tenant_id)
            if key is not None
            else None
        )
        return namespace_secrets(namespace, self.env_secrets, svc.secrets, cipher)

    def stop(self) -> None:
        with self._lock:
            for view in self._states.values():
                view.stop()
            self._states.clear()


def install(app_state: Any, settings: LannerSettings) -> WebhookViews:
    views = WebhookViews(settings, settings.environ)
    app_state.webhooks = views
    return views


def _tenant_services(request: Request) -> tuple[Services, WebhookViews]:
    state = request.app.state
    views: WebhookViews = state.webhooks
    tenant = request.scope.get(SCOPE_KEY) or state.default_tenant
    if not views.tenant_exists(tenant):
        raise ApiError(404, NOT_FOUND)
    tenants: TenantRegistry[Services] = state.tenants
    try:
        found = tenants.get(tenant)
    except ValueError:
        raise ApiError(404, NOT_FOUND) from None
    return found, views


@dataclass(frozen=True)
class _Target:
    svc: Services
    views: WebhookViews
    flow: Flow
    trigger: WebhookTrigger

    @property
    def where(self) -> str:
        return f"{self.flow.namespace}.{self.flow.id} trigger {self.trigger.id}"


def _find(request: Request, namespace: str, flow_id: str, key: str) -> _Target:
    svc, views = _tenant_services(request)
    tenant = svc.settings.tenant_id
    validated = svc.catalog.get(tenant, namespace, flow_id)
    if validated is None:
        raise ApiError(404, NOT_FOUND)
    flow = validated.flow
    now = dt.datetime.now(dt.UTC)
    trigger = hooks.matching_trigger(
        hooks.webhook_triggers(flow),
        key,
        lambda t: hooks.rendered_key(t, flow, tenant, lambda: views.secrets(svc, namespace), now),
    )
    if trigger is None:
        raise ApiError(404, NOT_FOUND)
    # Only a caller holding the key learns that the flow or its trigger is disabled.
    if flow.disabled:
        raise ApiError(409, f"flow {namespace}.{flow_id} is disabled: cannot execute it")
    if trigger.disabled:
        raise ApiError(
            409, f"webhook trigger {trigger.id} of flow {namespace}.{flow_id} is disabled"
        )
    state = views.states(svc).get(trigger_key(tenant, namespace, flow_id, trigger.id))
    if state is not None and state.disabled:
        reason = f" ({state.disabled_reason})" if state.disabled_reason else ""
        raise ApiError(
            409,
            f"webhook trigger {trigger.id} of flow {namespace}.{flow_id} was "
            f"disabled by an operator{reason}",
        )
    return _Target(replace(svc, actor=f"trigger:{trigger.id}"), views, flow, trigger)


def _record(target: _Target, event: TriggerFired | TriggerFailed) -> None:
    svc = target.svc
    svc.producer.send_and_wait(
        svc.topics.trigger_events, event.key, event.model_dump_json().encode()
    )


def _record_fire(target: _Target, event: TriggerFired) -> None:
    """After the answer: the execution is already requested (its command acknowledged on
    the log), so the caller does not wait for the triggers view's record of it."""
    try:
        _record(target, event)
    except Exception as exc:  # the answer is sent: all that is left is to say so
        log.error(
            "webhook fire could not be recorded on trigger-events",
            extra={
                "flow": f"{target.flow.namespace}.{target.flow.id}",
                "trigger": target.trigger.id,
                "execution_id": event.execution_id,
                "error": str(exc),
            },
        )


def _start(target: _Target, variables: dict[str, Any], source: dict[str, Any]) -> TriggerFired:
    """Request the execution (422 when its inputs do not fit); the fire to record."""
    svc, flow, trigger = target.svc, target.flow, target.trigger
    tenant = svc.settings.tenant_id
    execution_id = new_id()
    now = dt.datetime.now(dt.UTC)
    common = {
        "tenant": tenant,
        "namespace": flow.namespace,
        "flow_id": flow.id,
        "trigger_id": trigger.id,
        "time": now,
        "actor": "webhook",
    }
    try:
        context = hooks.request_context(flow, tenant, variables, execution_id)
        inputs = hooks.render_inputs(trigger, context, now)
        svc.executions.create(
            flow.namespace,
            flow.id,
            inputs,
            actor=svc.actor,
            labels=trigger.labels,
            trigger=variables,
            execution_id=execution_id,
        )
    except (ExpressionError, InvalidInputs, UnknownFlow) as exc:
        _record(target, TriggerFailed(error=str(exc), **common))
        log.warning(
            "webhook could not start an execution",
            extra={"flow": f"{flow.namespace}.{flow.id}", "trigger": trigger.id, "error": str(exc)},
        )
        errors = exc.errors if isinstance(exc, InvalidInputs) else [str(exc)]
        raise ApiError(
            422,
            f"webhook {target.where}: the execution's inputs could not be made: {exc}",
            errors=errors,
        ) from None
    log.info(
        "webhook fired",
        extra={
            "flow": f"{flow.namespace}.{flow.id}",
            "trigger": trigger.id,
            "execution_id": execution_id,
        },
    )
    return TriggerFired(execution_id=execution_id, source=source, **common)


def _variables_or_413(target: _Target, raw: bytes, request: Request) -> dict[str, Any]:
    variables = hooks.trigger_variables(
        target.trigger,
        hooks.parse_body(raw),
        hooks.multi_map(request.headers.items()),
        hooks.multi_map(request.query_params.multi_items()),
    )
    # They travel in the CreateExecution record and stay in the execution's state.
    limit = target.svc.settings.limits.input_bytes
    size = len(json.dumps(variables, default=str).encode())
    if size > limit:
        raise ApiError(
            413,
            f"webhook {target.where}: the request makes {size} bytes of "
            f"trigger variables, over {limit} (LANNER_LIMITS_INPUT_BYTES)",
            limit="input_bytes",
            maxBytes=limit,
            size=size,
        )
    return variables


async def _answer_when_ended(target: _Target, execution_id: str) -> Response:
    svc, trigger = target.svc, target.trigger
    tenant = svc.settings.tenant_id
    timeout_s = svc.settings.limits.webhook_wait_seconds
    ended, doc = await until_ended(svc, execution_id, timeout_s)
    if not ended or doc is None:
        current = doc["state"]["current"] if doc else "CREATED"
        raise ApiError(
            504,
            f"webhook {target.where}: execution {execution_id} has not ended "
            f"after {timeout_s:g} s (LANNER_LIMITS_WEBHOOK_WAIT_SECONDS); follow "
            f"it at {hooks.execution_url(tenant, execution_id)}",
            id=execution_id,
            state=current,
        )
    failed = doc["state"]["current"] == "FAILED"
    status = trigger.responseCode or (500 if failed else 200)
    if not trigger.returnOutputs:
        return JSONResponse(hooks.ended_answer(doc, tenant), status_code=status)
    outputs = doc.get("outputs")
    if trigger.responseContentType == "text/plain":
        return Response(hooks.outputs_text(outputs), status_code=status, media_type="text/plain")
    return JSONResponse(outputs, status_code=status)


async def webhook(namespace: str, flow_id: str, key: str, request: Request) -> Response:
    target = await run_in_threadpool(_find, request, namespace, flow_id, key)
    # Bounded already: BodyLimit (api/web/body_limit.py) refuses a body over
    # request_body_bytes, by its Content-Length or as it arrives, before this route runs.
    raw = await request.body()
    variables = _variables_or_413(target, raw, request)
    tenant = target.svc.settings.tenant_id
    now = dt.datetime.now(dt.UTC)
    context = hooks.request_context(target.flow, tenant, variables, "")
    held, why = hooks.conditions_hold(target.trigger, context, now)
    if not held:
        log.info(
            "webhook conditions not met",
            extra={"flow": f"{namespace}.{flow_id}", "trigger": target.trigger.id, "reason": why},
        )
        return Response(status_code=204)
    client = request.client.host if request.client else None
    source = {"webhook": request.method, "client": client}
    fired = await run_in_threadpool(_start, target, variables, source)
    if target.trigger.wait:
        await run_in_threadpool(_record_fire, target, fired)
        return await _answer_when_ended(target, fired.execution_id)
    labels = {**target.flow.label_map(), **target.trigger.labels}
    return JSONResponse(
        hooks.requested_answer(
            tenant=tenant,
            execution_id=fired.execution_id,
            flow=target.flow,
            variables=variables,
            labels=labels,
            now=now,
        ),
        background=BackgroundTask(_record_fire, target, fired),
    )


# One route a method, so each has its own operation id in the OpenAPI document.
for _method in ("GET", "POST", "PUT"):
    router.add_api_route(
        "/webhook/{namespace}/{flow_id}/{key}",
        webhook,
        methods=[_method],
        name=f"webhook_{_method.lower()}",
        summary="Start an execution by webhook",
        description=__doc__,
        response_model=None,
        responses=WEBHOOK_ANSWERS,
    )
