"""What a task plugin is: a pydantic model of its properties, and how it runs.

Three kinds, because where a task runs decides its cost:
- `flowable` tasks (Sequential, If, ForEach...) only decide which children run; the
  executor's pure core plans them.
- `inline` tasks (Log, Return, OutputValues, Fail) are pure functions of their rendered
  properties, so the executor runs them inside its decision, like Temporal's local
  activities: no hop to a worker.
- `worker` tasks do I/O or take time; they are dispatched as jobs and run by workers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Union, get_args, get_origin

from pydantic import ConfigDict, Field

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.metrics import TaskMetric
from schemas.states import State
from schemas.storage import Storage, task_prefix
from streams.plugins.flowable import (
    AfterChildren,
    AfterStart,
    ChildPlan,
    Decision,
    ExecutionView,
    NoDecision,
    Resolved,
    StepChildren,
)

if TYPE_CHECKING:
    from pathlib import Path

TaskKind = Literal["flowable", "inline", "worker"]
LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


class Task(TaskSpec):
    """Base of every task model; subclasses add their properties and class constants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = ()
    KIND: ClassVar[TaskKind] = "worker"
    # Properties holding child tasks or expressions the flowable evaluates itself; the
    # executor does not render them before the task starts.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset()
    # Properties whose templates render to text although their type does not say so, as
    # Kestra's render of a map does (a `{{ }}` alone otherwise keeps its value's type).
    TEXT_RENDERED: ClassVar[frozenset[str]] = frozenset()
    # The working-folder variables (`workingDir`, `outputDir`, `outputFiles`) its properties
    # may use; the worker gives their values (streams/core/folder_variables.py).
    FOLDER_VARIABLES: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return (cls.TYPE, *cls.KESTRA_TYPES)

    @classmethod
    def text_properties(cls) -> frozenset[str]:
        """Where a template renders to its text: TEXT_RENDERED, and every property typed as
        text (`message: "{{ inputs.json }}"` is the JSON's text, as on Kestra)."""
        found = _TEXT_PROPERTIES.get(cls)
        if found is None:
            typed = {n for n, f in cls.model_fields.items() if _takes_text(f.annotation)}
            found = _TEXT_PROPERTIES[cls] = frozenset(typed) | cls.TEXT_RENDERED
        return found

    def child_specs(self) -> list[TaskSpec]:
        """Every task nested in this one (for flowables), in declaration order."""
        return []


_TEXT_PROPERTIES: dict[type[Task], frozenset[str]] = {}


def _takes_text(annotation: Any) -> bool:
    """`str`, or a union with `str` in it (`str | list[Any]`); not `dict[str, Any]`."""
    if annotation is str:
        return True
    return get_origin(annotation) in (Union, UnionType) and str in get_args(annotation)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended."""

    state: State
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    # What an inline task asks of its own execution, which the executor records
    # (streams/core/execution_updates.py): labels to add, or the state to end it with.
    labels: Mapping[str, str] = field(default_factory=dict)
    exit_state: State | None = None
    # A WorkingDirectory's tasks, as they ended (schemas.worker.ChildRunReport).
    children: tuple[Any, ...] = ()
    # Counters, timers and gauges the attempt reported (recorded on its end event).
    metrics: tuple[TaskMetric, ...] = ()


@dataclass
class InlineLog:
    level: LogLevel
    message: str


class InlineTask(Task):
    KIND: ClassVar[TaskKind] = "inline"

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        """Pure: properties are already rendered; log lines are appended to `logs`."""
        raise NotImplementedError


class KvPort(Protocol):
    """The namespace key-value store as a task sees it (see streams/plugins/kv)."""

    async def set(
        self, namespace: str, key: str, value: Any, expires: dt.datetime | None
    ) -> None: ...

    async def get(self, namespace: str, key: str) -> tuple[bool, Any]: ...

    async def delete(self, namespace: str, key: str) -> bool: ...

    async def keys(self, namespace: str) -> list[str]:
        """The live (unexpired) keys of a namespace, sorted."""
        ...


class NamespaceFilesPort(Protocol):
    """A namespace's files as a task sees them (see streams/plugins/namespace): contents
    are read from storage by their `kestra://` URI."""

    async def files(self, namespace: str) -> list[tuple[str, str]]:
        """(path, content URI) of every file, sorted by path ("/scripts/main.py")."""
        ...

    async def write(self, namespace: str, path: str, source: Path) -> str:
        """Store `source` as a new version of the file `path`; its content URI."""
        ...

    async def delete(self, namespace: str, path: str) -> bool:
        """Delete the file; whether it existed."""
        ...


class ViewsPort(Protocol):
    """The executions and logs views (the search store) and the command topic, as a task
    sees them (Count, Resume, log.Fetch, the purges; see streams/app/views_port.py)."""

    async def execution(self, tenant: str, execution_id: str) -> dict[str, Any] | None:
        """The execution's document in the view (Kestra's shape), or None."""
        ...

    async def count_executions(
        self,
        tenant: str,
        flows: list[tuple[str, str]] | None,
        namespaces: list[str] | None,
        states: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
    ) -> list[tuple[str, str, int]]:
        """(namespace, flow id, count) of matching executions; every flow named in `flows`
        is there, with 0 when it has none."""
        ...

    async def logs(
        self,
        tenant: str,
        namespace: str,
        flow_id: str,
        execution_id: str,
        task_ids: list[str] | None,
        min_level: str,
    ) -> list[dict[str, Any]]:
        """An execution's log lines at or above `min_level`, in order."""
        ...

    async def resume(
        self, execution_id: str, command_id: str, actor: str, inputs: Mapping[str, Any]
    ) -> None:
        """Send the execution a ResumeExecution command (acknowledged)."""
        ...

    async def purge_executions(
        self,
        tenant: str,
        namespace: str | None,
        flow_id: str | None,
        states: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime,
        executions: bool,
        logs: bool,
    ) -> tuple[list[dict[str, Any]], int]:
        """Remove finished executions (and their logs) from the views: (the purged
        executions' documents, how many log lines went)."""
        ...

    async def purge_logs(
        self,
        tenant: str,
        namespace: str | None,
        flow_id: str | None,
        levels: list[str] | None,
        start: dt.datetime | None,
        end: dt.datetime,
    ) -> int:
        """Remove log lines from the logs view; how many went."""
        ...


@dataclass(frozen=True)
class WorkerContext:
    """What a worker gives a running task (I/O edges are callables, so tasks stay testable)."""

    execution_id: str
    task_run_id: str
    attempt: int
    namespace: str
    flow_id: str
    log: Callable[[LogLevel, str], Awaitable[None]]
    now: Callable[[], dt.datetime]
    # Edges for tasks that do real work; defaults keep older callers working.
    tenant: str = "main"
    task_id: str = ""
    storage: Storage | None = None
    # Where fresh working directories (and cached venvs) are made.
    work_root: Path | None = None
    kv: KvPort | None = None
    # What child processes inherit: the worker's environment minus its secrets.
    env: Mapping[str, str] = field(default_factory=dict)
    # The task run's `taskrun.value` inside a ForEach (state tasks isolate by it).
    task_run_value: str | None = None
    # The search store's views and the command topic (Count, Resume, log.Fetch...).
    views: ViewsPort | None = None
    # Inside a WorkingDirectory: the folder its tasks share (made, filled and removed by
    # the WorkingDirectory; a task uses it instead of a fresh one, and leaves it).
    shared_dir: Path | None = None
    # The namespace files (namespaceFiles, namespace.UploadFiles/DownloadFiles/DeleteFiles).
    namespace_files: NamespaceFilesPort | None = None
    # The folder the worker made for this attempt before it ran, because its properties
    # name it (`{{ workingDir }}`): the task works there instead of in a fresh one.
    prepared_dir: Path | None = None

    def files_prefix(self) -> str:
        """The `kestra://` folder of this attempt's files."""
        return task_prefix(
            self.tenant,
            self.namespace,
            self.flow_id,
            self.execution_id,
            self.task_id,
            self.task_run_id,
            self.attempt,
        )


class WorkerTask(Task):
    KIND: ClassVar[TaskKind] = "worker"

    async def run(self, ctx: WorkerContext) -> Outcome:
        raise NotImplementedError


class FlowableTask(Task):
    """A task that steers children: the flowable protocol (streams/plugins/flowable.py),
    with defaults for all but `next_children`, which every flowable must give."""

    KIND: ClassVar[TaskKind] = "flowable"
    # Child tasks render when they run, in their own context, never with their parent.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"tasks", "errors", "finally_"})
    DECISION: ClassVar[type[Decision]] = NoDecision
    ABSORBS_FAILURE: ClassVar[bool] = False
    RUNS_ON_WORKER: ClassVar[bool] = False
    errors: list[TaskSpec] = Field(default_factory=list)
    finally_: list[TaskSpec] = Field(default_factory=list, alias="finally")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def implements_protocol(cls) -> bool:
        """Whether the class says how its children run (else it cannot be walked)."""
        return cls.next_children is not FlowableTask.next_children

    def child_specs(self) -> list[TaskSpec]:
        return [*self.main_specs(), *self.errors, *self.finally_]

    def main_specs(self) -> list[TaskSpec]:
        raise NotImplementedError

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        return NoDecision()

    def after_start(self, run: TaskRun, decision: Decision, view: ExecutionView) -> AfterStart:
        return StepChildren()

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        raise NotImplementedError(f"flowable {self.type} does not say how its children run")

    def after_children(self, run: TaskRun, state: State, view: ExecutionView) -> AfterChildren:
        return Resolved(state)

    def resolve_state(self, run: TaskRun, state: State, view: ExecutionView) -> State:
        if self.ABSORBS_FAILURE and state.is_failure and not view.killing:
            return State.WARNING
        return state

    def final_outputs(self, run: TaskRun, decision: Decision) -> dict[str, Any]:
        return {}
