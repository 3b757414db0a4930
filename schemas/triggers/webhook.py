"""Webhook triggers: `io.kestra.plugin.core.trigger.Webhook`.

`GET|POST|PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}` starts an execution
of the flow whose webhook trigger has that key, with the request as `trigger.body`,
`trigger.headers` and `trigger.parameters` (api/web/routes_webhooks.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WEBHOOK_TYPES = (
    "trigger.Webhook",
    "io.kestra.plugin.core.trigger.Webhook",
    "io.kestra.core.models.triggers.types.Webhook",
)
# The one condition a webhook evaluates (against the request): an expression that must
# render truthy. Kestra's older name for it was VariableCondition.
EXPRESSION_CONDITION_TYPES = (
    "condition.ExpressionCondition",
    "io.kestra.plugin.core.condition.ExpressionCondition",
    "io.kestra.core.models.conditions.types.ExpressionCondition",
    "io.kestra.core.models.conditions.types.VariableCondition",
)
# A key is a URL path segment and the webhook's only secret (Kestra: at most 256).
KEY_MAX_LENGTH = 256


class WebhookTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    # Literal, or an expression rendered with `flow`, `vars` and `secret()`.
    key: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    # Inputs of the execution; expressions see the request as `trigger`.
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    # Checked against the request: one false (or `when` false) answers 204, starts nothing.
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    when: str | None = None
    # Answer when the execution ends instead of once it is requested (bounded by
    # LANNER_LIMITS_WEBHOOK_WAIT_SECONDS), with the flow's outputs when returnOutputs.
    wait: bool = False
    returnOutputs: bool = False
    responseContentType: Literal["application/json", "text/plain"] | None = None
    responseCode: int | None = Field(default=None, ge=200, le=599)
    disabled: bool = False


MODELS: dict[str, type[BaseModel]] = {name: WebhookTrigger for name in WEBHOOK_TYPES}
