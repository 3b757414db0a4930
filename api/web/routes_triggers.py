"""/api/v1/triggers: every trigger with its state, and an operator's hand on them.

Kestra's routes and body shapes (its TriggerController): search, a flow's triggers,
PUT with a trigger body to enable/disable it or start a backfill, backfill
pause/unpause/delete, unlock, set-disabled in bulk. Every change is an event on
`trigger-events` with the caller as actor; the scheduler follows them live, and the
answer is the trigger's context once the `triggers` view shows the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from api.web.errors import ApiError, not_found
from api.web.models import ANSWER
from api.web.models_triggers import (
    TriggerContext,
    TriggerContextPage,
    TriggersChanged,
    TriggerSearchPage,
)
from api.web.services import Services, services
from api.web.trigger_list import TriggerRow, matches, sort_rows, state_of
from projections import mappings
from schemas.flow import TriggerSpec
from schemas.inputs import coerce_inputs
from schemas.triggers import (
    BackfillPaused,
    BackfillStarted,
    BackfillStopped,
    TriggerDisabled,
    TriggerEnabled,
    TriggerEventBase,
    TriggerState,
    fold_trigger,
    schedule,
    trigger_key,
)
from streams.core import ValidatedFlow
from streams.writers.executions import new_id

router = APIRouter(prefix="/triggers", tags=["triggers"])
Svc = Annotated[Services, Depends(services)]
# A backfill's end may be this far ahead of the server's clock (clients' clocks drift).
_CLOCK_SKEW = dt.timedelta(seconds=5)
# Dates before it are typing mistakes, and year 1 would overflow the slot arithmetic.
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class LabelBody(BaseModel):
    key: str
    value: str


class BackfillBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start: dt.datetime
    end: dt.datetime | None = None
    inputs: dict[str, Any] | None = None
    # Kestra sends a list of {key, value}; a map is accepted too.
    labels: list[LabelBody] | dict[str, str] | None = None


class TriggerBody(BaseModel):
    """Kestra's Trigger as its UI sends it back; the fields Lanner does not keep
    (dates, worker id, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    namespace: str
    flowId: str
    triggerId: str
    disabled: bool | None = None
    backfill: BackfillBody | None = None


class SetDisabledBody(BaseModel):
    triggers: list[TriggerBody]
    disabled: bool = True


# --- reading ----------------------------------------------------------------------------


def _rows(
    svc: Services, namespace: str | None = None, flow_id: str | None = None, q: str | None = None
) -> list[TriggerRow]:
    """Every trigger of every deployed flow of the tenant that matches, with its state."""
    tenant = svc.settings.tenant_id
    rows: list[TriggerRow] = []
    for key in svc.catalog.flow_keys():
        owner, ns, fid = key.split("/", 2)
        if owner != tenant:
            continue
        flow = svc.catalog.get(tenant, ns, fid)
        if flow is None:
            continue
        for spec in flow.flow.triggers:
            row = TriggerRow(tenant, ns, fid, spec, None)
            if matches(row, q, namespace, flow_id):
                rows.append(row)
    docs = svc.store.get_many(mappings.TRIGGERS, [row.key for row in rows])
    return [
        TriggerRow(r.tenant, r.namespace, r.flow_id, r.spec, state_of(docs.get(r.key)))
        for r in rows
    ]


def _page(rows: list[TriggerRow], page: int, size: int) -> list[TriggerRow]:
    return rows[(page - 1) * size : page * size]


@router.get("/search", response_model=TriggerSearchPage, **ANSWER)
def search_triggers(
    svc: Svc,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 10,
    sort: Annotated[list[str] | None, Query()] = None,
    q: str | None = None,
    namespace: str | None = None,
    flow_id: Annotated[str | None, Query(alias="flowId")] = None,
) -> dict[str, Any]:
    """Every trigger of every deployed flow (all types, fired or not) with its context."""
    rows = sort_rows(_rows(svc, namespace, flow_id, q), sort)
    return {"results": [row.api() for row in _page(rows, page, size)], "total": len(rows)}


@router.get("/{namespace}/{flow_id}", response_model=TriggerContextPage, **ANSWER)
def flow_triggers(
    namespace: str,
    flow_id: str,
    svc: Svc,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=1000)] = 10,
    sort: Annotated[list[str] | None, Query()] = None,
    q: str | None = None,
) -> dict[str, Any]:
    """The contexts of one flow's triggers (Kestra's paged Trigger list)."""
    if svc.catalog.get(svc.settings.tenant_id, namespace, flow_id) is None:
        raise not_found(f"flow {namespace}.{flow_id}")
    rows = [r for r in _rows(svc, namespace, flow_id, q) if r.namespace == namespace]
    rows = sort_rows(rows, sort)
    return {"results": [row.context() for row in _page(rows, page, size)], "total": len(rows)}


# --- writing ----------------------------------------------------------------------------


def _find(
    svc: Services, namespace: str, flow_id: str, trigger_id: str
) -> tuple[ValidatedFlow, TriggerSpec]:
    flow = svc.catalog.get(svc.settings.tenant_id, namespace, flow_id)
    if flow is None:
        raise not_found(f"flow {namespace}.{flow_id}")
    for spec in flow.flow.triggers:
        if spec.id == trigger_id:
            return flow, spec
    raise not_found(f"trigger {trigger_id} of flow {namespace}.{flow_id}")


class _Change:
    """One operator request on one trigger: its definition, its state as the view
    shows it, and the events it writes (folded here too, for the answer)."""

    def __init__(self, svc: Services, namespace: str, flow_id: str, trigger_id: str) -> None:
        self.svc = svc
        self.flow, self.spec = _find(svc, namespace, flow_id, trigger_id)
        self.namespace, self.flow_id, self.trigger_id = namespace, flow_id, trigger_id
        self.key = trigger_key(svc.settings.tenant_id, namespace, flow_id, trigger_id)
        self.state: TriggerState | None = state_of(svc.store.get(mappings.TRIGGERS, self.key))
        self.now = dt.datetime.now(dt.UTC)
        self.events: list[TriggerEventBase] = []

    @property
    def name(self) -> str:
        return f"trigger {self.trigger_id} of flow {self.namespace}.{self.flow_id}"

    def common(self) -> dict[str, Any]:
        return {
            "tenant": self.svc.settings.tenant_id,
            "namespace": self.namespace,
            "flow_id": self.flow_id,
            "trigger_id": self.trigger_id,
            "time": self.now,
            "actor": self.svc.actor,
        }

    def set_disabled(self, disabled: bool) -> None:
        if not disabled and self.spec.disabled:
            raise ApiError(
                409,
                f"{self.name} is disabled in the flow's source; deploy a "
                "revision without `disabled: true` to enable it",
            )
        if disabled == bool(self.state and self.state.disabled):
            return  # already so: nothing to write
        if disabled:
            self.events.append(
                TriggerDisabled(reason=f"disabled by {self.svc.actor}", **self.common())
            )
        else:
            self.events.append(TriggerEnabled(**self.common()))

    def start_backfill(self, body: BackfillBody) -> None:
        model = schedule.MODELS.get(self.spec.type)
        if model is None:
            raise ApiError(
                422,
                f"{self.name} is a {self.spec.type}; only schedule triggers "
                "(Schedule, ScheduleOnDates) can be backfilled",
            )
        if self.state is not None and self.state.backfill is not None:
            raise ApiError(409, f"{self.name} already runs a backfill; pause or delete it first")
        start = _aware(body.start)
        end = _aware(body.end) if body.end is not None else self.now
        if start < _EARLIEST:
            raise ApiError(
                422, f"backfill start {start.isoformat()} is before {_EARLIEST.date().isoformat()}"
            )
        if end > self.now + _CLOCK_SKEW:
            raise ApiError(
                422,
                f"backfill end {end.isoformat()} is in the future; a "
                "backfill replays past schedules only",
            )
        if start > end:
            raise ApiError(
                422, f"backfill start {start.isoformat()} is after its end {end.isoformat()}"
            )
        inputs = dict(body.inputs or {})
        self._check_inputs(inputs)
        labels = (
            body.labels
            if isinstance(body.labels, dict)
            else {label.key: label.value for label in body.labels or []}
        )
        self.events.append(
            BackfillStarted(
                backfill_id=new_id(),
                start=start,
                end=min(end, self.now),
                inputs=inputs,
                labels=labels,
                **self.common(),
            )
        )

    def _check_inputs(self, inputs: dict[str, Any]) -> None:
        # The slots run with the trigger's own inputs, the backfill's on top.
        declared = (self.spec.model_extra or {}).get("inputs")
        own = declared if isinstance(declared, dict) else {}
        _, errors = coerce_inputs(self.flow.flow.inputs, {**own, **inputs})
        if errors:
            raise ApiError(422, f"backfill inputs of {self.name} are invalid", errors=errors)

    def running_backfill(self) -> BackfillStarted:
        if self.state is None or self.state.backfill is None:
            raise ApiError(409, f"{self.name} has no backfill")
        return self.state.backfill

    def pause_backfill(self, paused: bool) -> None:
        running = self.running_backfill()
        self.events.append(
            BackfillPaused(paused=paused, backfill_id=running.identity, **self.common())
        )

    def delete_backfill(self) -> None:
        running = self.running_backfill()
        self.events.append(
            BackfillStopped(
                reason=f"deleted by {self.svc.actor}", backfill_id=running.identity, **self.common()
            )
        )

    def unlock(self) -> None:
        # Kestra's unlock releases a trigger held by its running execution; Lanner's
        # triggers are never held (projections/trigger_fold.py), so there is none to free.
        raise ApiError(409, f"{self.name} is not locked")

    def commit(self) -> dict[str, Any]:
        """Write the events, then answer with the context the view shows after them
        (read-your-writes), or the one folded here if the view is slow."""
        state = self.state
        last_offset = -1
        for event in self.events:
            _, last_offset = self.svc.producer.send_and_wait(
                self.svc.topics.trigger_events, self.key, event.model_dump_json().encode()
            )
            state = fold_trigger(state, event)
        if last_offset >= 0:
            doc = self.svc.wait_visible(
                mappings.TRIGGERS, self.key, lambda d: int(d.get("offset") or 0) > last_offset
            )
            shown = state_of(doc)
            state = shown if shown is not None else state
        row = TriggerRow(
            self.svc.settings.tenant_id, self.namespace, self.flow_id, self.spec, state
        )
        return row.context()


def _aware(value: dt.datetime) -> dt.datetime:
    # Kestra's dates are zoned; one sent without an offset is read as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _update(svc: Services, body: TriggerBody) -> dict[str, Any]:
    change = _Change(svc, body.namespace, body.flowId, body.triggerId)
    if body.backfill is not None:
        change.start_backfill(body.backfill)
    if body.disabled is not None:
        change.set_disabled(body.disabled)
    return change.commit()


@router.put("", response_model=TriggerContext, **ANSWER)
async def update_trigger(body: TriggerBody, svc: Svc) -> dict[str, Any]:
    """Kestra's `PUT /api/v1/triggers`: `disabled` enables or disables the trigger,
    `backfill: {start, end, inputs, labels}` starts a backfill."""
    return await run_in_threadpool(_update, svc, body)


def _backfill_action(svc: Services, body: TriggerBody, action: str) -> dict[str, Any]:
    change = _Change(svc, body.namespace, body.flowId, body.triggerId)
    if action == "delete":
        change.delete_backfill()
    else:
        change.pause_backfill(action == "pause")
    return change.commit()


@router.put("/backfill/pause", response_model=TriggerContext, **ANSWER)
async def pause_backfill(body: TriggerBody, svc: Svc) -> dict[str, Any]:
    return await run_in_threadpool(_backfill_action, svc, body, "pause")


@router.put("/backfill/unpause", response_model=TriggerContext, **ANSWER)
async def unpause_backfill(body: TriggerBody, svc: Svc) -> dict[str, Any]:
    return await run_in_threadpool(_backfill_action, svc, body, "unpause")


@router.post("/backfill/delete", response_model=TriggerContext, **ANSWER)
async def delete_backfill(body: TriggerBody, svc: Svc) -> dict[str, Any]:
    return await run_in_threadpool(_backfill_action, svc, body, "delete")


def _unlock(svc: Services, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
    change = _Change(svc, namespace, flow_id, trigger_id)
    change.unlock()
    return change.commit()


@router.post("/{namespace}/{flow_id}/{trigger_id}/unlock", response_model=TriggerContext, **ANSWER)
async def unlock_trigger(namespace: str, flow_id: str, trigger_id: str, svc: Svc) -> dict[str, Any]:
    return await run_in_threadpool(_unlock, svc, namespace, flow_id, trigger_id)


def _set_disabled(svc: Services, body: SetDisabledBody) -> TriggersChanged:
    # Every trigger is checked before anything is written: one unknown trigger refuses
    # the whole request instead of leaving it half done.
    changes = [_Change(svc, t.namespace, t.flowId, t.triggerId) for t in body.triggers]
    for change in changes:
        change.set_disabled(body.disabled)
    for change in changes:
        change.commit()
    return TriggersChanged(count=len(changes))


@router.post("/set-disabled/by-triggers", response_model=TriggersChanged, **ANSWER)
async def set_disabled_by_triggers(body: SetDisabledBody, svc: Svc) -> TriggersChanged:
    """Kestra's bulk enable/disable: `{triggers: [...], disabled: true|false}`."""
    return await run_in_threadpool(_set_disabled, svc, body)
