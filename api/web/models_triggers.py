"""Answers of /api/v1/triggers (Kestra's Trigger context, projections/trigger_fold.py
trigger_context, with Lanner's counters beside it) and of the webhook trigger."""

from __future__ import annotations

from typing import Any

from pydantic import Field, RootModel

from api.web.models import Answer, Document, ErrorBody, Label


class BackfillView(Document):
    id: str
    start: str | None
    end: str | None
    currentDate: str | None
    paused: bool
    fired: int
    inputs: dict[str, Any]
    labels: list[Label]
    actor: str


class BatchView(Document):
    """The last batch a Kafka batch trigger closed."""

    executionId: str
    uri: str
    count: int
    ranges: dict[str, list[int]] = Field(description="topic/partition -> [first, next)")


class TriggerContext(Document):
    tenantId: str
    namespace: str
    flowId: str
    triggerId: str
    date: str | None = Field(description="The last scheduled date the trigger evaluated")
    nextExecutionDate: str | None
    executionId: str | None = Field(description="Always null: Lanner never locks a trigger")
    locked: bool
    updatedDate: str | None
    disabled: bool
    disabledReason: str | None
    backfill: BackfillView | None
    lastFireDate: str | None
    lastExecutionId: str | None
    fired: int
    lastError: str | None
    errorSince: str | None
    positions: dict[str, int]
    accepted: int
    deadLettered: int
    lastBatch: BatchView | None


class TriggerSearchRow(Answer):
    abstractTrigger: dict[str, Any] = Field(description="The trigger's definition in the flow")
    triggerContext: TriggerContext


class TriggerSearchPage(Answer):
    results: list[TriggerSearchRow]
    total: int = Field(description="Triggers matching, over every page")


class TriggerContextPage(Answer):
    results: list[TriggerContext]
    total: int = Field(description="Triggers matching, over every page")


class TriggersChanged(Answer):
    count: int = Field(description="How many triggers the request concerned")


class WebhookState(Document):
    current: str
    histories: list[dict[str, Any]]


class WebhookAnswer(Document):
    """Kestra's WebhookResponse: the execution started (or, with `wait`, ended)."""

    tenantId: str
    id: str
    namespace: str
    flowId: str
    flowRevision: int | None
    trigger: dict[str, Any]
    outputs: dict[str, Any] | None
    labels: list[Label]
    state: WebhookState
    url: str = Field(description="Where to follow the execution")


class WebhookReply(
    RootModel[WebhookAnswer | dict[str, Any] | list[Any] | str | float | bool | None]
):
    """A webhook's answer: Kestra's WebhookResponse, or the flow's outputs (any JSON)
    with `returnOutputs`."""


class WebhookFailure(RootModel[WebhookAnswer | ErrorBody]):
    """500: the waited-for execution FAILED (its WebhookResponse), or an unexpected error."""


WEBHOOK_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": WebhookReply,
        "description": (
            "The execution requested (or ended, with `wait`). With `returnOutputs` the "
            "body is the flow's outputs instead (as JSON, or as text with "
            "`responseContentType: text/plain`); `responseCode` may set another status"
        ),
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    204: {"description": "The trigger's conditions do not hold: nothing started"},
    500: {"model": WebhookFailure, "description": "With `wait`: the execution FAILED"},
    504: {"model": ErrorBody, "description": "With `wait`: the execution did not end in time"},
}
