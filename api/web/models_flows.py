"""Answers of /api/v1/flows: a flow's document from the `flows` and `flow-revisions`
views (projections/documents.py flow_docs), a deployment, a validation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.web.models import Answer, Document, FlowProblemBody, Label

Outcome = Literal["created", "updated", "unchanged"]


class FlowView(Document):
    tenantId: str
    namespace: str
    id: str
    revision: int
    source: str | None = Field(description="The flow's YAML, as it was deployed")
    description: str | None
    labels: list[Label]
    taskTypes: list[str]
    triggerTypes: list[str]
    deleted: bool
    updated: str = Field(description="ISO-8601: when this revision was deployed (or deleted)")
    actor: str


class FlowDeployed(FlowView):
    outcome: Outcome = Field(description="What the deployment did to the flow")


class FlowAccepted(Answer):
    """202: the deployment is on the log but not yet in the views."""

    namespace: str
    id: str
    revision: int
    outcome: Outcome
    message: str


class FlowRevision(FlowView):
    diff: str = Field(description="Unified diff of the source from the previous revision")


class FlowPage(Answer):
    results: list[FlowView]
    total: int = Field(description="Flows matching, over every page")


class FlowValidation(Answer):
    valid: bool
    namespace: str | None = Field(None, description="Only when valid")
    id: str | None = Field(None, description="Only when valid")
    problems: list[FlowProblemBody]


DEPLOYED: dict[int | str, dict[str, Any]] = {
    200: {"model": FlowDeployed, "description": "The flow, as its view shows it"},
    202: {
        "model": FlowAccepted,
        "description": "Deployed; not yet in the views (read it again in a moment)",
    },
}
