"""What a webhook request means, without I/O: which trigger its key opens, the trigger
variables it gives the execution, whether its conditions hold, and Kestra's answers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from schemas.flow import Flow
from schemas.triggers.webhook import WEBHOOK_TYPES, WebhookTrigger
from streams.core import ExpressionError, defang, render, render_bool

log = logging.getLogger("lanner.api.webhooks")


def webhook_triggers(flow: Flow) -> list[WebhookTrigger]:
    """The flow's webhook triggers (validated at deploy; one that no longer parses, e.g.
    from a flow deployed before a model change, is left out rather than failing)."""
    found: list[WebhookTrigger] = []
    for spec in flow.triggers:
        if spec.type not in WEBHOOK_TYPES:
            continue
        try:
            found.append(WebhookTrigger.model_validate(spec.model_dump(exclude_unset=True)))
        except ValidationError as exc:
            log.warning(
                "invalid webhook trigger ignored",
                extra={
                    "flow": f"{flow.namespace}.{flow.id}",
                    "trigger": spec.id,
                    "error": str(exc),
                },
            )
    return found


def flow_variables(flow: Flow, tenant: str) -> dict[str, Any]:
    return {
        "id": flow.id,
        "namespace": flow.namespace,
        "revision": flow.revision,
        "tenantId": tenant,
    }


def rendered_key(
    trigger: WebhookTrigger,
    flow: Flow,
    tenant: str,
    secrets: Callable[[], Mapping[str, str]],
    now: dt.datetime,
) -> str | None:
    """The key the trigger expects: literal, or rendered with `flow`, `vars` and `secret()`
    (Kestra trims it). None when it cannot be rendered: that trigger then opens nothing."""
    if "{{" not in trigger.key and "{%" not in trigger.key:
        return trigger.key
    context = {
        "flow": flow_variables(flow, tenant),
        "vars": flow.variables,
        "_secrets": secrets() if "secret" in trigger.key else {},
    }
    try:
        return str(render(trigger.key, context, now=now)).strip()
    except ExpressionError as exc:
        log.warning(
            "webhook key does not render; the trigger is ignored",
            extra={"flow": f"{flow.namespace}.{flow.id}", "trigger": trigger.id, "error": str(exc)},
        )
        return None


def matching_trigger(
    triggers: Iterable[WebhookTrigger], key: str, expected: Callable[[WebhookTrigger], str | None]
) -> WebhookTrigger | None:
    """The first trigger whose key is `key`, each compared in constant time, all compared
    (so the answer's timing says nothing about which trigger or how much matched)."""
    # Digests first: compare_digest is constant-time only between equal lengths, and the
    # length of the key is part of the secret too.
    sent = hashlib.sha256(key.encode()).digest()
    found: WebhookTrigger | None = None
    for trigger in triggers:
        wanted = expected(trigger)
        if wanted is None:
            continue
        if hmac.compare_digest(hashlib.sha256(wanted.encode()).digest(), sent) and found is None:
            found = trigger
    return found


def parse_body(raw: bytes) -> Any:
    """Kestra's `trigger.body`: a JSON object or array as such, any other text as the text,
    nothing as null; bytes that are not UTF-8 base64-encoded (variables carry text)."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text


def multi_map(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Headers or query parameters as Kestra gives them: name -> every value, in order."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        found.setdefault(name, []).append(value)
    return found


def trigger_variables(
    trigger: WebhookTrigger,
    body: Any,
    headers: dict[str, list[str]],
    parameters: dict[str, list[str]],
) -> dict[str, Any]:
    """The execution's `trigger`: what `trigger.body`, `.headers`, `.parameters` read."""
    return {
        "id": trigger.id,
        "type": trigger.type,
        "body": body,
        "headers": headers,
        "parameters": parameters,
    }


def request_context(
    flow: Flow, tenant: str, variables: dict[str, Any], execution_id: str
) -> dict[str, Any]:
    """What conditions and the trigger's inputs see: the request (defanged, it comes from
    outside), the flow and its variables. No secret(): inputs are kept on the log."""
    return {
        "trigger": defang(variables),
        "flow": flow_variables(flow, tenant),
        "vars": flow.variables,
        "execution": {"id": execution_id},
        "_secrets": {},
        "_kv": {},
        "_files": {},
    }


def conditions_hold(
    trigger: WebhookTrigger, context: Mapping[str, Any], now: dt.datetime
) -> tuple[bool, str | None]:
    """(True, None) when every condition (and `when`) renders truthy; else False and why.
    A condition that fails to render counts as not met, as in Kestra."""
    expressions = [
        c["expression"] for c in trigger.conditions if isinstance(c.get("expression"), str)
    ]
    if trigger.when is not None:
        expressions.append(trigger.when)
    for expression in expressions:
        try:
            if not render_bool(expression, context, now=now):
                return False, f"condition {expression!r} is false"
        except ExpressionError as exc:
            return False, f"condition {expression!r} does not render: {exc}"
    return True, None


def render_inputs(
    trigger: WebhookTrigger, context: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """The trigger's `inputs`, rendered (ExpressionError when one cannot be)."""
    rendered = render(trigger.inputs, context, now=now)
    assert isinstance(rendered, dict)
    return rendered


def execution_url(tenant: str, execution_id: str) -> str:
    return f"/api/v1/{tenant}/executions/{execution_id}"


def kestra_trigger(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Kestra's ExecutionTrigger shape: {id, type, variables}."""
    return {
        "id": variables.get("id"),
        "type": variables.get("type"),
        "variables": {k: v for k, v in variables.items() if k not in ("id", "type")},
    }


def requested_answer(
    *,
    tenant: str,
    execution_id: str,
    flow: Flow,
    variables: Mapping[str, Any],
    labels: Mapping[str, str],
    now: dt.datetime,
) -> dict[str, Any]:
    """Kestra's WebhookResponse for an execution just requested (not waited for)."""
    return {
        "tenantId": tenant,
        "id": execution_id,
        "namespace": flow.namespace,
        "flowId": flow.id,
        "flowRevision": flow.revision,
        "trigger": kestra_trigger(variables),
        "outputs": None,
        "labels": [{"key": k, "value": v} for k, v in labels.items()],
        "state": {
            "current": "CREATED",
            "histories": [{"state": "CREATED", "date": now.isoformat()}],
        },
        "url": execution_url(tenant, execution_id),
    }


def ended_answer(doc: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """Kestra's WebhookResponse from the execution's document once it ended."""
    trigger = doc.get("trigger") or {}
    return {
        "tenantId": doc.get("tenantId", tenant),
        "id": doc["id"],
        "namespace": doc["namespace"],
        "flowId": doc["flowId"],
        "flowRevision": doc.get("flowRevision"),
        "trigger": kestra_trigger(trigger),
        "outputs": doc.get("outputs"),
        "labels": doc.get("labels", []),
        "state": doc.get("state"),
        "url": execution_url(tenant, str(doc["id"])),
    }


def outputs_text(outputs: Any) -> str:
    """The flow's outputs as a text/plain answer: a lone string as is, else its JSON."""
    if isinstance(outputs, str):
        return outputs
    return json.dumps(outputs, default=str)
