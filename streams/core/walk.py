"""The walk: step the flow's task tree from the root after every input (Kestra's way).

The walk is the generic driver of the flowable protocol (streams/plugins/flowable.py):
each flowable decides once when it starts, then says which children run next
(streams/core/children.py and dag.py carry its plan out) and what their end means;
inline tasks run on the spot, worker tasks are dispatched, and finished children end
their parents.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.events import ExecutionPaused, TaskRunCreated, TaskRunPaused, TaskRunStarted
from schemas.execution import Execution, TaskRun
from schemas.flow import TaskSpec
from schemas.states import State
from schemas.worker import LogLine
from streams.core import for_each_item, working_directory
from streams.core.bounds import DEFAULT_BOUNDS, Bounds, LimitExceeded
from streams.core.children import block, in_parallel, in_scopes
from streams.core.context import render_context
from streams.core.dag import as_dag
from streams.core.deferred import lookups_in, needs_worker
from streams.core.emitter import Emitter
from streams.core.execution_end import end_execution
from streams.core.execution_updates import WalkStopped, apply_to_execution
from streams.core.expressions import Budget, ExpressionError, render, render_bool
from streams.core.flow_catalog_port import FlowCatalog
from streams.core.flowable_view import WalkView
from streams.core.ids import derive_id
from streams.core.jobs import worker_job
from streams.core.messages import end_or_retry
from streams.core.rendering import rendered
from streams.core.validation import ValidatedFlow
from streams.core.walk_memo import ScopesProgress, WalkMemo
from streams.plugins.base import FlowableTask, InlineLog, InlineTask, Outcome, Task
from streams.plugins.core.for_each_item import ForEachItemMergeOutputs
from streams.plugins.core.simple import Fail
from streams.plugins.flowable import (
    AfterChildren,
    AsDag,
    AwaitInput,
    ChildPlan,
    EndRun,
    InParallel,
    InScopes,
    PauseRun,
    PauseUntil,
    Scope,
)


class _FlowableFailed(Exception):
    """What a flowable made of its children's end did not evaluate: its run fails."""


class Walker:
    def __init__(
        self,
        em: Emitter,
        flow: ValidatedFlow,
        catalog: FlowCatalog,
        bounds: Bounds = DEFAULT_BOUNDS,
        memo: WalkMemo | None = None,
    ) -> None:
        self.em = em
        self.flow = flow
        self.catalog = catalog
        self.bounds = bounds
        # One render budget for the whole step: steps and the edge's clock are
        # shared by every render of this decision, so many renders cannot add up.
        self._render_limits = bounds.render()
        self._account = Budget(self._render_limits)
        self._created = 0  # task runs this step has created
        # (parent, task, value) -> run id: the walk looks runs up far more often than it
        # creates them, and a ForEach can have thousands. Kept by the memo from one input
        # to the next, with what the loops learnt (streams/core/walk_memo.py).
        self.memo = memo if memo is not None else WalkMemo()
        self.memo.catch_up(em.current)
        self._runs_by_scope = self.memo.runs_by_scope
        # (parent, task, iteration) -> run id, for loops whose iterations have runs of
        # their own (WaitFor); built when first needed.
        self._runs_by_iteration: dict[tuple[str | None, str, int | None], str] | None = None
        self.view = WalkView(self)

    @property
    def state(self) -> Execution:
        return self.em.current

    @property
    def killing(self) -> bool:
        return self.state.state == State.KILLING

    def render(self, value: Any, context: dict[str, Any]) -> Any:
        return render(
            value, context, now=self.em.time, limits=self._render_limits, account=self._account
        )

    def render_bool(self, value: Any, context: dict[str, Any]) -> bool:
        return render_bool(
            value, context, now=self.em.time, limits=self._render_limits, account=self._account
        )

    def decided_here(self, value: Any, what: str) -> Any:
        """`value`, which the executor itself must evaluate (a condition, a ForEach's values):
        secret()/kv()/read() cannot be resolved here, and a placeholder would decide wrong
        (it is always truthy), so their use fails clearly instead."""
        used = lookups_in(value)
        if used:
            calls = ", ".join(f"{name}()" for name in sorted(used))
            raise ExpressionError(
                "",
                f"{what} calls {calls}, whose data only a worker holds; the executor "
                f"decides {what} without it",
            )
        return value

    def advance(self) -> None:
        if self.state.state in (State.PAUSED, State.QUEUED):
            return
        flow = self.flow.flow
        try:
            result = block(
                self,
                lambda: in_scopes(self, flow.tasks, None, [Scope(None)], 0),
                flow.errors,
                flow.finally_,
                None,
                None,
            )
        except WalkStopped:  # an Exit task ended the execution
            return
        if result is None:
            if self.killing and not any(
                not r.state.is_terminal for r in self.state.task_runs.values()
            ):
                end_execution(self, State.KILLED)
            return
        if self.killing:
            result = State.KILLED
        end_execution(self, result)

    # --- the runs of children ---------------------------------------------------------

    def find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        run_id = self._runs_by_scope.get((parent_id, task_id, value))
        return None if run_id is None else self.state.task_runs[run_id]

    def find_in(self, parent_id: str | None, task_id: str, scope: Scope) -> TaskRun | None:
        if not scope.own_runs:
            return self.find(parent_id, task_id, scope.value)
        if self._runs_by_iteration is None:
            self._runs_by_iteration = {
                (r.parent_id, r.task_id, r.iteration): r.id for r in self.state.task_runs.values()
            }
        run_id = self._runs_by_iteration.get((parent_id, task_id, scope.iteration))
        return None if run_id is None else self.state.task_runs[run_id]

    def create_task_run(self, spec: TaskSpec, parent_id: str | None, scope: Scope) -> TaskRun:
        """A new run of `spec` under `parent_id`, its id derived from where it runs (and,
        for a loop whose iterations have runs of their own, from the iteration)."""
        self.bounds.check_task_runs(len(self.state.task_runs), self._created)
        self._created += 1
        own = ("iteration", scope.iteration) if scope.own_runs else ()
        run_id = derive_id(self.state.id, parent_id, spec.id, scope.value, *own)
        self.em.emit(
            TaskRunCreated,
            task_run_id=run_id,
            task_id=spec.id,
            parent_id=parent_id,
            value=scope.value,
            iteration=scope.iteration,
        )
        self._runs_by_scope[(parent_id, spec.id, scope.value)] = run_id
        self.memo.created_last(run_id, len(self.state.task_runs))
        if self._runs_by_iteration is not None:
            self._runs_by_iteration[(parent_id, spec.id, scope.iteration)] = run_id
        return self.state.task_runs[run_id]

    def child(self, spec: TaskSpec, parent_id: str | None, scope: Scope) -> TaskRun | None:
        """The run of `spec` in this scope, created and stepped; None when not to be run."""
        run = self.find_in(parent_id, spec.id, scope)
        if run is None:
            if self.killing:
                return None
            run = self.create_task_run(spec, parent_id, scope)
        return self._step(run)

    def loop_progress(self, parent_id: str | None, specs: list[TaskSpec]) -> ScopesProgress:
        return self.memo.loop(parent_id, tuple(spec.id for spec in specs))

    def learnt(self, progress: ScopesProgress) -> None:
        self.memo.learnt[id(progress)] = progress

    # --- one task run ---------------------------------------------------------------

    def _step(self, run: TaskRun) -> TaskRun:
        task = self.flow.tasks[run.task_id]
        if run.state == State.CREATED:
            self._start(run, task)
        elif run.state == State.RESTARTED or (
            run.state == State.RETRYING
            and run.retry_at is not None
            and run.retry_at <= self.em.time
        ):
            if self.killing:
                self.em.end_task_run(run.id, State.KILLED, error="killed")
            else:
                self._start(run, task, again=True)
        elif run.state == State.RUNNING and isinstance(task, FlowableTask):
            self._step_flowable(self.state.task_runs[run.id], task)
        return self.state.task_runs[run.id]

    def _context(self, run: TaskRun, task: Task) -> dict[str, Any]:
        return render_context(self.flow.flow, self.state, run, task.type)

    def _fail(self, run: TaskRun, task: Task, message: str) -> None:
        line = self._log_line(run, task, "ERROR", message, 0)
        self.em.end_task_run(run.id, State.FAILED, error=message, logs=(line,))

    def _log_line(self, run: TaskRun, task: Task, level: Any, message: str, index: int) -> LogLine:
        s = self.state
        return LogLine(
            tenant=s.tenant,
            namespace=s.namespace,
            flow_id=s.flow_id,
            execution_id=s.id,
            task_run_id=run.id,
            task_id=task.id,
            attempt=max(1, run.attempt_number),
            level=level,
            message=message,
            time=self.em.time,
            index=index,
        )

    def _start(self, run: TaskRun, task: Task, *, again: bool = False) -> None:
        try:
            if (
                not again
                and task.runIf is not None
                and not self.render_bool(
                    self.decided_here(task.runIf, "runIf"), self._context(run, task)
                )
            ):
                self.em.end_task_run(run.id, State.SKIPPED)
                return
        except (ExpressionError, ValueError) as exc:
            self._fail(run, task, f"task {task.id}: {exc}")
            return
        try:
            ready = rendered(task, lambda: self._context(run, task), self.render, self.em.time)
            if isinstance(ready, ForEachItemMergeOutputs):
                ready = for_each_item.with_results(self.view, run, ready)
        except (ExpressionError, ValueError) as exc:
            self._attempt_failed(run, task, f"task {task.id}: {exc}")
            return
        if isinstance(ready, InlineTask) and not needs_worker(ready):
            self._run_inline(run, ready)
        elif isinstance(ready, FlowableTask):
            self._start_flowable(run, ready)
        else:
            self._dispatch(run, ready)

    def _attempt_failed(self, run: TaskRun, task: Task, message: str) -> None:
        """Properties that do not render fail an attempt, as on Kestra's worker: the
        task's retry policy applies (a flowable has no attempts to retry: it fails)."""
        if isinstance(task, FlowableTask):
            self._fail(run, task, message)
            return
        self.em.emit(TaskRunStarted, task_run_id=run.id, attempt=run.attempt_number + 1)
        run = self.state.task_runs[run.id]
        line = self._log_line(run, task, "ERROR", message, 0)
        end_or_retry(self.em, self.flow, run, State.FAILED, error=message, logs=(line,))

    def _run_inline(self, run: TaskRun, task: InlineTask) -> None:
        self.em.emit(TaskRunStarted, task_run_id=run.id, attempt=run.attempt_number + 1)
        run = self.state.task_runs[run.id]
        if isinstance(task, Fail) and task.condition is not None:
            try:
                condition = self.decided_here(task.condition, "condition")
                if not self.render_bool(condition, self._context(run, task)):
                    self.em.end_task_run(run.id, State.SUCCESS)
                    return
            except ExpressionError as exc:
                self._fail(run, task, f"task {task.id}: {exc}")
                return
        logs: list[InlineLog] = []
        try:
            outcome = task.run_inline(logs)
        except Exception as exc:  # a plugin bug fails its task run, never the executor
            outcome = Outcome(
                State.FAILED, error=f"task {task.id} raised {type(exc).__name__}: {exc}"
            )
        lines = tuple(
            self._log_line(run, task, log.level, log.message, i) for i, log in enumerate(logs)
        )
        if outcome.state == State.SUCCESS:
            apply_to_execution(self.em, run, task.id, outcome, lines)
        end_or_retry(
            self.em,
            self.flow,
            run,
            outcome.state,
            outputs=dict(outcome.outputs),
            error=outcome.error,
            logs=lines,
        )

    def _dispatch(self, run: TaskRun, task: Task) -> None:
        job = worker_job(self, run, task)
        if job is not None:
            self.em.emit(TaskRunStarted, task_run_id=run.id, attempt=job.attempt, job=job)

    # --- flowables ------------------------------------------------------------------

    def _start_flowable(self, run: TaskRun, task: FlowableTask) -> None:
        if task.RUNS_ON_WORKER:
            return working_directory.start(self, run, task)  # one job for all its tasks
        try:
            decision = task.decide(run, self.view)
        except (ExpressionError, ValueError, LimitExceeded) as exc:
            self._fail(run, task, f"task {task.id}: {exc}")
            return
        self.em.emit(
            TaskRunStarted,
            task_run_id=run.id,
            attempt=run.attempt_number + 1,
            decision=decision.record(),
            child_execution_id=decision.child_execution_id,
        )
        run = self.state.task_runs[run.id]
        after = task.after_start(run, decision, self.view)
        if isinstance(after, PauseRun):
            self.em.emit(
                TaskRunPaused,
                task_run_id=run.id,
                resume_at=after.resume_at,
                timeout_fails=after.timeout_fails,
            )
            if self.state.state == State.RUNNING:
                self.em.emit(ExecutionPaused)
        elif isinstance(after, EndRun):
            self.em.end_task_run(run.id, after.state, outputs=dict(after.outputs))
        elif not isinstance(after, AwaitInput):
            self._step_flowable(run, task)

    def _step_flowable(self, run: TaskRun, task: FlowableTask) -> None:
        """Runs the children the flowable's plan says may run now, then `errors` and
        `finally`; ends the run once they all have, as the flowable resolves it."""
        try:
            decision = task.DECISION.model_validate(run.decision or {})
        except ValidationError as exc:  # a record this flowable cannot read: never guessed
            self._fail(run, task, f"task {task.id}: its start decision is unreadable: {exc}")
            return
        plan = task.next_children(run, decision, self.view)
        if plan is None:
            return  # something else (a worker, a subflow) ends it
        resolved: list[AfterChildren] = []

        def main() -> State | None:
            state = self._run_plan(plan, run.id)
            if state is None:
                return None
            try:
                after = task.after_children(run, state, self.view)
            except (ExpressionError, ValueError) as exc:
                raise _FlowableFailed(str(exc)) from None
            resolved.append(after)
            if isinstance(after, PauseUntil):
                self.em.emit(
                    TaskRunPaused,
                    task_run_id=run.id,
                    resume_at=after.resume_at,
                    outputs=after.outputs,
                )
                if self.state.state == State.RUNNING:
                    self.em.emit(ExecutionPaused)
                return None
            return after.state

        try:
            result = block(self, main, task.errors, task.finally_, run.id, run.value)
        except _FlowableFailed as exc:
            self._fail(self.state.task_runs[run.id], task, f"task {task.id}: {exc}")
            return
        if result is None:
            return
        result = task.resolve_state(run, result, self.view)
        given = resolved[-1].outputs if resolved else None
        outputs = given if given is not None else task.final_outputs(run, decision)
        self.em.end_task_run(run.id, result, outputs=outputs)

    def _run_plan(self, plan: ChildPlan, parent_id: str) -> State | None:
        if isinstance(plan, InScopes):
            return in_scopes(self, plan.specs, parent_id, plan.scopes, plan.limit)
        if isinstance(plan, InParallel):
            return in_parallel(self, plan.specs, parent_id, Scope(plan.value), plan.limit)
        if isinstance(plan, AsDag):
            return as_dag(self, plan, parent_id)
        raise TypeError(f"unknown child plan {type(plan).__name__}")
