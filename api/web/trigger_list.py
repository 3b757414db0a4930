"""Every trigger of every deployed flow, joined with its state: the rows of
GET /api/v1/triggers/search (pure, so filters, sorting and paging are unit-tested).

A trigger that never did anything has no document in the `triggers` view yet; it is
listed all the same, with an empty context built from its definition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.web.queries import sort_order
from projections.trigger_fold import folded_from_doc, trigger_context
from schemas.flow import TriggerSpec
from schemas.triggers import TriggerState, trigger_key

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TRIGGER_SORTS = (
    "namespace",
    "flowId",
    "triggerId",
    "type",
    "date",
    "nextExecutionDate",
    "lastFireDate",
    "updatedDate",
    "disabled",
)


@dataclass(frozen=True)
class TriggerRow:
    tenant: str
    namespace: str
    flow_id: str
    spec: TriggerSpec
    state: TriggerState | None

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.spec.id)

    def context(self) -> dict[str, Any]:
        state = self.state or TriggerState(
            tenant=self.tenant,
            namespace=self.namespace,
            flow_id=self.flow_id,
            trigger_id=self.spec.id,
            updated=_EPOCH,
        )
        context = trigger_context(state)
        if self.state is None:
            context["updatedDate"] = None
        # Disabled in the flow's YAML is disabled too (only a new revision enables it).
        context["disabled"] = bool(context["disabled"]) or self.spec.disabled
        return context

    def api(self) -> dict[str, Any]:
        """Kestra's search row: the trigger's definition and its context."""
        return {
            "abstractTrigger": self.spec.model_dump(mode="json", exclude_none=True),
            "triggerContext": self.context(),
        }


def state_of(doc: dict[str, Any] | None) -> TriggerState | None:
    folded = folded_from_doc(doc) if doc is not None else None
    return folded.state if folded is not None else None


def matches(row: TriggerRow, q: str | None, namespace: str | None, flow_id: str | None) -> bool:
    if namespace and not (row.namespace == namespace or row.namespace.startswith(f"{namespace}.")):
        return False
    if flow_id and row.flow_id != flow_id:
        return False
    if q:
        text = " ".join((row.namespace, row.flow_id, row.spec.id, row.spec.type)).lower()
        return all(word in text for word in q.lower().split())
    return True


def _sort_value(row: TriggerRow, context: dict[str, Any], name: str) -> Any:
    if name == "namespace":
        return row.namespace
    if name == "flowId":
        return row.flow_id
    if name == "triggerId":
        return row.spec.id
    if name == "type":
        return row.spec.type
    return context.get(name)


def sort_rows(rows: list[TriggerRow], sort: list[str] | None) -> list[TriggerRow]:
    """Kestra's `sort=field:asc|desc` (repeatable); absent values last either way."""
    order = [pair for raw in sort or [] for pair in sort_order(raw, TRIGGER_SORTS)]
    keyed = [(row, row.context()) for row in rows]
    keyed.sort(key=lambda pair: (pair[0].namespace, pair[0].flow_id, pair[0].spec.id))
    for name, descending in reversed(order):
        present = [p for p in keyed if _sort_value(p[0], p[1], name) is not None]
        absent = [p for p in keyed if _sort_value(p[0], p[1], name) is None]
        present.sort(key=lambda pair: str(_sort_value(pair[0], pair[1], name)), reverse=descending)
        keyed = present + absent
    return [row for row, _ in keyed]
