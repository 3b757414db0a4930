"""The flow language: Kestra's properties, parsed into frozen models.

A task is kept here as a `TaskSpec` (its common properties, the rest as extra fields);
the plugin registry turns each into its typed model during validation, because the
set of task types is open (entry-point plugins) while this package imports nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from schemas.inputs import ID_PATTERN, InputDef
from schemas.sla import Sla

TASK_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class RetrySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["constant", "exponential", "random"]
    # Kestra spells it `maxAttempt`; both are accepted.
    maxAttempts: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("maxAttempts", "maxAttempt")
    )
    maxDuration: str | None = None
    interval: str | None = None
    maxInterval: str | None = None
    minInterval: str | None = None
    delayFactor: float | None = None
    warningOnRetry: bool = False
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] = "RETRY_FAILED_TASK"


class TaskSpec(BaseModel):
    """Common properties of every task; type-specific ones stay in the extra fields."""

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(pattern=TASK_ID_PATTERN)
    type: str
    description: str | None = None
    retry: RetrySpec | None = None
    timeout: str | None = None
    allowFailure: bool = False
    allowWarning: bool = False
    runIf: str | None = None
    disabled: bool = False
    workerGroup: dict[str, Any] | None = None
    logLevel: str | None = None
    # Kestra writes such a task's logs to a file in internal storage; Lanner accepts the
    # property and keeps indexing the lines like any other task's (README, Kestra table).
    logToFile: bool = False


# Properties every task has (TaskSpec's own fields), plus the branches a flowable runs
# later: never rendered as a task's inputs (streams/core/walk.py, the worker's
# WorkingDirectory in streams/app/working_directory.py).
NOT_RENDERED_AS_INPUTS = frozenset(TaskSpec.model_fields) | {"else", "finally"}


class TriggerSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(pattern=TASK_ID_PATTERN)
    type: str
    description: str | None = None
    disabled: bool = False


class Concurrency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class FlowOutput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    type: str = "STRING"
    value: Any = None
    description: str | None = None
    required: bool = True


class PluginDefault(BaseModel):
    """Values every plugin of `type` (a full type or a prefix) receives; see
    streams/core/plugin_defaults.py for how they apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(min_length=1)
    forced: bool = False
    values: dict[str, Any] = Field(default_factory=dict)


class Flow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=TASK_ID_PATTERN, max_length=100)
    namespace: str = Field(pattern=NAMESPACE_PATTERN, max_length=150)
    revision: int | None = None
    description: str | None = None
    labels: dict[str, str] | list[dict[str, str]] = Field(default_factory=dict)
    inputs: list[InputDef] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskSpec] = Field(min_length=1)
    errors: list[TaskSpec] = Field(default_factory=list)
    # `finally` is a Python keyword: the attribute is `finally_`, the YAML key `finally`.
    finally_: list[TaskSpec] = Field(default_factory=list, alias="finally")
    afterExecution: list[TaskSpec] = Field(default_factory=list)
    outputs: list[FlowOutput] = Field(default_factory=list)
    triggers: list[TriggerSpec] = Field(default_factory=list)
    concurrency: Concurrency | None = None
    retry: RetrySpec | None = None
    sla: list[Sla] = Field(default_factory=list)
    disabled: bool = False
    deleted: bool = False
    pluginDefaults: list[PluginDefault] = Field(default_factory=list)
    # Kestra's older name for pluginDefaults; applied the same way.
    taskDefaults: list[PluginDefault] = Field(default_factory=list)
    tenantId: str | None = None

    @property
    def uid(self) -> str:
        return f"{self.namespace}/{self.id}"

    def label_map(self) -> dict[str, str]:
        if isinstance(self.labels, dict):
            return {str(k): str(v) for k, v in self.labels.items()}
        return {str(item["key"]): str(item["value"]) for item in self.labels}


class FlowRef(BaseModel):
    """Which flow (and revision) an execution runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    namespace: str
    flow_id: str
    revision: int

    @property
    def uid(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.flow_id}"
