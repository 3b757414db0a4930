"""The walk: step the flow's task tree from the root after every input (Kestra's way).

Each flowable creates the children it may now run, inline tasks run on the spot, worker
tasks are dispatched, and finished children end their parents.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from schemas.events import (
    EXECUTION_END_STATES,
    ExecutionPaused,
    TaskRunCreated,
    TaskRunPaused,
    TaskRunStarted,
)
from schemas.execution import Execution, TaskRun
from schemas.flow import NOT_RENDERED_AS_INPUTS, TaskSpec
from schemas.inputs import coerce_inputs, parse_duration
from schemas.states import State, worst
from schemas.worker import LogLine
from streams.core import for_each_item, wait_for, working_directory
from streams.core.bounds import DEFAULT_BOUNDS, Bounds, LimitExceeded
from streams.core.context import render_context
from streams.core.deferred import defer_lookups, lookups_in, needs_worker

# Properties every task has; they steer the executor and are never rendered as inputs.
from streams.core.emitter import Emitter
from streams.core.execution_updates import WalkStopped, apply_to_execution
from streams.core.expressions import Budget, ExpressionError, render, render_bool
from streams.core.expressions.values import templated_text, to_text
from streams.core.flow_catalog_port import FlowCatalog
from streams.core.ids import derive_id
from streams.core.java_text import java_text
from streams.core.jobs import worker_job
from streams.core.labels import SYSTEM_LABEL_PREFIX
from streams.core.messages import end_or_retry
from streams.core.retry import next_retry
from streams.core.validation import ValidatedFlow
from streams.plugins.base import FlowableTask, InlineLog, InlineTask, Outcome, Task
from streams.plugins.core.flowables import (
    AllowFailure,
    Dag,
    EachParallel,
    EachSequential,
    ForEach,
    If,
    Parallel,
    Pause,
    Sequential,
    Subflow,
    Switch,
)
from streams.plugins.core.for_each_item import (
    ForEachItem,
    ForEachItemExecutable,
    ForEachItemMergeOutputs,
)
from streams.plugins.core.simple import Fail
from streams.plugins.core.wait_for import WaitFor
from streams.plugins.core.working_directory import WorkingDirectory


class Walker:
    def __init__(
        self,
        em: Emitter,
        flow: ValidatedFlow,
        catalog: FlowCatalog,
        bounds: Bounds = DEFAULT_BOUNDS,
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
        # creates them, and a ForEach can have thousands.
        self._runs_by_scope = {
            (r.parent_id, r.task_id, r.value): r.id for r in em.current.task_runs.values()
        }

    @property
    def state(self) -> Execution:
        return self.em.current

    @property
    def killing(self) -> bool:
        return self.state.state == State.KILLING

    def _render(self, value: Any, context: dict[str, Any]) -> Any:
        return render(
            value, context, now=self.em.time, limits=self._render_limits, account=self._account
        )

    def _decided_here(self, value: Any, what: str) -> Any:
        """`value`, which the executor itself must evaluate (a condition, a ForEach's values):
        secret()/kv()/read() cannot be resolved here, and a placeholder would decide wrong
        (it is always truthy), so their use fails clearly instead (issue 16)."""
        used = lookups_in(value)
        if used:
            calls = ", ".join(f"{name}()" for name in sorted(used))
            raise ExpressionError(
                "",
                f"{what} calls {calls}, whose data only a worker holds; the executor "
                f"decides {what} without it",
            )
        return value

    def _render_bool(self, value: Any, context: dict[str, Any]) -> bool:
        return render_bool(
            value, context, now=self.em.time, limits=self._render_limits, account=self._account
        )

    def advance(self) -> None:
        if self.state.state in (State.PAUSED, State.QUEUED):
            return
        flow = self.flow.flow
        try:
            result = self._block(flow.tasks, flow.errors, flow.finally_, None, None, self._sequence)
        except WalkStopped:  # an Exit task ended the execution
            return
        if result is None:
            if self.killing and not any(
                not r.state.is_terminal for r in self.state.task_runs.values()
            ):
                self._end_execution(State.KILLED)
            return
        if self.killing:
            result = State.KILLED
        self._end_execution(result)

    def _end_execution(self, result: State) -> None:
        outputs: dict[str, Any] = {}
        error: str | None = None
        if result in (State.SUCCESS, State.WARNING) and self.flow.flow.outputs:
            try:
                context = render_context(self.flow.flow, self.state, None, None)
                outputs = {o.id: self._render(o.value, context) for o in self.flow.flow.outputs}
            except ExpressionError as exc:
                result, error = State.FAILED, f"flow outputs: {exc}"
        if result.is_failure and error is None:
            error = self._blame()
        next_id, next_at = self._next_attempt(result)
        self.em.emit(
            EXECUTION_END_STATES[result],
            outputs=outputs,
            error=error,
            next_attempt_id=next_id,
            next_attempt_at=next_at,
        )

    def _next_attempt(self, result: State) -> tuple[str | None, dt.datetime | None]:
        """Flow-level retry with CREATE_NEW_EXECUTION: when, and under which id, to try again."""
        policy = self.flow.flow.retry
        if result != State.FAILED or policy is None or policy.behavior != "CREATE_NEW_EXECUTION":
            return None, None
        trigger = self.state.trigger or {}
        retrying = trigger.get("type") == "retry"
        attempt = int(trigger.get("attempt", 1)) if retrying else 1
        first = str(trigger.get("originalId")) if retrying else self.state.id
        first_start = (
            dt.datetime.fromisoformat(str(trigger["firstStart"]))
            if retrying and "firstStart" in trigger
            else self.state.created
        )
        due = next_retry(policy, first, attempt, first_start, self.em.time)
        if due is None:
            return None, None
        return derive_id(first, "retry", attempt + 1), due

    def _blame(self) -> str | None:
        """The error of the failure that failed the execution: not one that was allowed."""
        state = self.state
        for run in reversed(list(state.task_runs.values())):
            if not run.state.is_failure or not run.error:
                continue
            tasks = (self.flow.tasks[r.task_id] for r in [run, *state.ancestors(run)])
            if not any(t.allowFailure or isinstance(t, AllowFailure) for t in tasks):
                return run.error
        return None

    # --- groups of children --------------------------------------------------------

    def _find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        run_id = self._runs_by_scope.get((parent_id, task_id, value))
        return None if run_id is None else self.state.task_runs[run_id]

    def create_execution(
        self, spec: TaskSpec, parent_id: str | None, value: str | None, iteration: int | None
    ) -> TaskRun:
        self.bounds.check_task_runs(len(self.state.task_runs), self._created)
        self._created += 1
        run_id = derive_id(self.state.id, parent_id, spec.id, value)
        self.em.emit(
            TaskRunCreated,
            task_run_id=run_id,
            task_id=spec.id,
            parent_id=parent_id,
            value=value,
            iteration=iteration,
        )
        self._runs_by_scope[(parent_id, spec.id, value)] = run_id
        return self.state.task_runs[run_id]

    def _child(
        self, spec: TaskSpec, parent_id: str | None, value: str | None, iteration: int | None
    ) -> TaskRun | None:
        """The run of `spec` in this scope, created and stepped; None when not to be run."""
        run = self._find(parent_id, spec.id, value)
        if run is None:
            if self.killing:
                return None
            run = self.create_execution(spec, parent_id, value, iteration)
        return self._step(run)

    @staticmethod
    def _counted(spec: TaskSpec, state: State) -> State:
        """How a child's end counts for its parent: a failure allowed is a warning, and a
        warning allowed (that one included, as in Kestra) is a success."""
        if state.is_failure and spec.allowFailure:
            state = State.WARNING
        if state == State.WARNING and spec.allowWarning:
            return State.SUCCESS
        return state

    def _sequence(
        self,
        specs: list[TaskSpec],
        parent_id: str | None,
        value: str | None,
        iteration: int | None = None,
    ) -> State | None:
        return self._in_order(specs, lambda spec: self._child(spec, parent_id, value, iteration))

    def _in_order(
        self, specs: list[TaskSpec], child: Callable[[TaskSpec], TaskRun | None]
    ) -> State | None:
        """`specs` one after another, `child` giving each one's run, stepped (None when
        killed before it was created): the first failure not allowed ends them, an
        unfinished run waits (None); else the worst of their ends."""
        states: list[State] = []
        for spec in specs:
            if spec.disabled:
                continue
            run = child(spec)
            if run is None:
                return State.KILLED
            if not run.state.is_terminal:
                return None
            counted = self._counted(spec, run.state)
            if counted.is_failure:
                return counted
            states.append(counted)
        return worst(states)

    def _parallel(
        self, specs: list[TaskSpec], parent_id: str | None, value: str | None, limit: int
    ) -> State | None:
        states: list[State] = []
        pending = False
        failed = False
        active = sum(
            1
            for s in specs
            if (r := self._find(parent_id, s.id, value)) is not None and not r.state.is_terminal
        )
        for spec in specs:
            if spec.disabled:
                continue
            existing = self._find(parent_id, spec.id, value)
            if existing is None and (failed or self.killing or (limit and active >= limit)):
                pending = pending or not (failed or self.killing)
                continue
            run = self._child(spec, parent_id, value, None)
            if run is None:
                continue
            if existing is None and not run.state.is_terminal:
                active += 1
            # A running child (a flowable) that ends during this walk frees its slot now:
            # `active` was counted before the loop, and with `concurrent` the next child
            # would otherwise never start.
            if existing is not None and not existing.state.is_terminal and run.state.is_terminal:
                active -= 1
            if not run.state.is_terminal:
                pending = True
                continue
            counted = self._counted(spec, run.state)
            failed = failed or counted.is_failure
            states.append(counted)
        if pending:
            return None
        return State.KILLED if self.killing else worst(states)

    def _block(
        self,
        main: list[TaskSpec],
        errors: list[TaskSpec],
        finally_: list[TaskSpec],
        parent_id: str | None,
        value: str | None,
        runner: Callable[[list[TaskSpec], str | None, str | None], State | None],
    ) -> State | None:
        result = runner(main, parent_id, value)
        if result is None:
            return None
        if self.killing:
            return State.KILLED
        # The errors branch handles a failure; the block still ends FAILED, as in Kestra.
        if result.is_failure and errors and self._sequence(errors, parent_id, value) is None:
            return None
        if finally_:
            after = self._sequence(finally_, parent_id, value)
            if after is None:
                return None
            result = worst([result, after])
        return result

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

    def _rendered(self, run: TaskRun, task: Task) -> Task:
        """The task with its properties rendered (unless it has no expression at all)."""
        raw = task.model_dump(by_alias=True, exclude_unset=True)
        names = [k for k in raw if k not in NOT_RENDERED_AS_INPUTS and k not in task.UNRENDERED]
        if not any(_has_expression(raw[k]) for k in names):
            return task
        context = self._context(run, task)
        written = dict(raw)
        for key in names:
            # Templates using secret()/kv()/read() render on the worker.
            raw[key] = self._render(defer_lookups(raw[key], context, self.em.time), context)
            if key in task.text_properties():
                raw[key] = templated_text(written[key], raw[key])
        try:
            return type(task).model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"rendered properties are invalid: {_short_validation(exc)}") from None

    def _start(self, run: TaskRun, task: Task, *, again: bool = False) -> None:
        try:
            if (
                not again
                and task.runIf is not None
                and not self._render_bool(
                    self._decided_here(task.runIf, "runIf"), self._context(run, task)
                )
            ):
                self.em.end_task_run(run.id, State.SKIPPED)
                return
        except (ExpressionError, ValueError) as exc:
            self._fail(run, task, f"task {task.id}: {exc}")
            return
        try:
            rendered = self._rendered(run, task)
            if isinstance(rendered, ForEachItemMergeOutputs):
                rendered = for_each_item.with_results(self, run, rendered)
        except (ExpressionError, ValueError) as exc:
            self._attempt_failed(run, task, f"task {task.id}: {exc}")
            return
        if isinstance(rendered, InlineTask) and not needs_worker(rendered):
            self._run_inline(run, rendered)
        elif isinstance(rendered, FlowableTask):
            self._start_flowable(run, rendered)
        else:
            self._dispatch(run, rendered)

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
                condition = self._decided_here(task.condition, "condition")
                if not self._render_bool(condition, self._context(run, task)):
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
        if isinstance(task, WorkingDirectory):
            return working_directory.start(self, run, task)  # one job for all its tasks
        try:
            decision = self._decide_flowable(run, task)
        except (ExpressionError, ValueError, LimitExceeded) as exc:
            self._fail(run, task, f"task {task.id}: {exc}")
            return
        if "error" in decision:
            self._fail(run, task, f"task {task.id}: {decision['error']}")
            return
        child_id = decision.get("executionId") if isinstance(task, Subflow) else None
        self.em.emit(
            TaskRunStarted,
            task_run_id=run.id,
            attempt=run.attempt_number + 1,
            decision=decision,
            child_execution_id=child_id,
        )
        if isinstance(task, Pause):
            resume_at = None
            if task.duration or task.timeout:
                resume_at = self.em.time + parse_duration(task.duration or str(task.timeout))
            self.em.emit(
                TaskRunPaused,
                task_run_id=run.id,
                resume_at=resume_at,
                timeout_fails=bool(task.timeout) and not task.duration,
            )
            if self.state.state == State.RUNNING:
                self.em.emit(ExecutionPaused)
            return
        if isinstance(task, Subflow):
            if not task.wait:
                self.em.end_task_run(run.id, State.SUCCESS, outputs={"executionId": child_id})
            return
        if isinstance(task, ForEachItemExecutable):
            for_each_item.started(self, self.state.task_runs[run.id])
            return
        self._step_flowable(self.state.task_runs[run.id], task)

    def _decide_flowable(self, run: TaskRun, task: FlowableTask) -> dict[str, Any]:
        if isinstance(task, If):
            condition = self._decided_here(task.condition, "condition")
            return {"condition": self._render_bool(condition, self._context(run, task))}
        if isinstance(task, Switch):
            value = self._render(self._decided_here(task.value, "value"), self._context(run, task))
            # Compared as Kestra prints it: `true`, not Python's `True`.
            text = to_text(value)
            if text not in task.cases and not task.defaults:
                # Kestra's "No task found": nothing to run is a failure, not a success.
                raise ValueError(f"no case matches {text!r} and there are no defaults")
            return {"value": text}
        if isinstance(task, ForEach | EachSequential | EachParallel):
            raw = task.values if isinstance(task, ForEach) else task.value
            values = self._render(self._decided_here(raw, "values"), self._context(run, task))
            if isinstance(values, str):
                try:
                    values = json.loads(values)
                except json.JSONDecodeError:
                    raise ValueError(
                        f"values must be a list or a JSON array, got {values!r}"
                    ) from None
            if not isinstance(values, list):
                raise ValueError(f"values must be a list, got {type(values).__name__}")
            nulls = sum(1 for v in values if v is None)
            if nulls:
                # Kestra's words, so a search for its message finds ours.
                raise ValueError(
                    f"Found '{nulls}' null values on Each, with values={java_text(values)}"
                )
            self.bounds.check_fan_out(len(values), "values")
            return {"values": [v if isinstance(v, str) else json.dumps(v) for v in values]}
        if isinstance(task, Subflow):
            return self._decide_subflow(run, task)
        if isinstance(task, ForEachItemExecutable):
            return for_each_item.decide(self, run, task)
        if isinstance(task, WaitFor):
            return wait_for.decide(run, task)
        if isinstance(task, Pause) and (task.duration or task.timeout):
            try:
                parse_duration(task.duration or str(task.timeout))
            except ValueError as exc:
                raise ValueError(f"pauseDuration/delay/timeout: {exc}") from None
        if isinstance(task, Parallel | Dag):
            self.bounds.check_fan_out(len(task.tasks), "parallel tasks")
        return {}

    def _decide_subflow(self, run: TaskRun, task: Subflow) -> dict[str, Any]:
        s = self.state
        target = self.catalog.get(s.tenant, task.namespace, task.flowId, task.revision)
        if target is None:
            revision = f" revision {task.revision}" if task.revision else ""
            return {"error": f"subflow {task.namespace}.{task.flowId}{revision} does not exist"}
        inputs, errors = coerce_inputs(target.flow.inputs, task.inputs)
        if errors:
            return {"error": f"subflow {task.namespace}.{task.flowId}: " + "; ".join(errors)}
        # System labels (the correlation id) always follow the chain, as in Kestra.
        system = {k: v for k, v in s.labels.items() if k.startswith(SYSTEM_LABEL_PREFIX)}
        labels = {**system, **(s.labels if task.inheritLabels else {}), **task.labels}
        return {
            # A restarted Subflow task starts a new child, not the one that failed.
            "executionId": derive_id(s.id, run.id, "subflow")
            if not run.attempts
            else derive_id(s.id, run.id, "subflow", len(run.attempts) + 1),
            "namespace": task.namespace,
            "flowId": task.flowId,
            "revision": target.flow.revision,
            "inputs": inputs,
            "labels": labels,
            "wait": task.wait,
            "transmitFailed": task.transmitFailed,
            "extract": bool(task.outputs),
        }

    def _step_flowable(self, run: TaskRun, task: FlowableTask) -> None:
        if isinstance(task, Subflow | ForEachItemExecutable):
            return  # it ends through SubflowEnded, not through children
        if isinstance(task, WaitFor):
            return wait_for.step(self, run, task)  # ends or pauses the run itself
        if isinstance(task, WorkingDirectory) and working_directory.waiting(self.state, run, task):
            return  # its job runs its tasks; the report records them
        result = self._flowable_result(run, task)
        if result is None:
            return
        if isinstance(task, AllowFailure) and result.is_failure and not self.killing:
            result = State.WARNING
        self.em.end_task_run(run.id, result, outputs=self._flowable_outputs(run, task))

    @staticmethod
    def _flowable_outputs(run: TaskRun, task: FlowableTask) -> dict[str, Any]:
        if isinstance(task, Pause):
            return dict(run.outputs)  # what it was resumed with (`onResume`)
        if isinstance(task, Switch):
            value = str((run.decision or {}).get("value", ""))
            return {"value": value, "defaults": value not in task.cases}
        return {}

    def _flowable_result(self, run: TaskRun, task: FlowableTask) -> State | None:
        errors, finally_ = task.errors, task.finally_
        value = run.value
        if isinstance(task, Sequential | Pause):
            # A Pause is stepped once resumed: its `tasks` run then, in sequence.
            return self._block(task.tasks, errors, finally_, run.id, value, self._sequence)
        if isinstance(task, ForEachItem):  # its split, items and merge subtasks
            return self._block(task.main_specs(), errors, finally_, run.id, value, self._sequence)
        if isinstance(task, Parallel):
            limit = task.concurrent
            return self._block(
                task.tasks,
                errors,
                finally_,
                run.id,
                value,
                lambda specs, p, v: self._parallel(specs, p, v, limit),
            )
        if isinstance(task, If):
            branch = task.then if (run.decision or {}).get("condition") else task.else_
            return self._block(branch, errors, finally_, run.id, value, self._sequence)
        if isinstance(task, Switch):
            case = str((run.decision or {}).get("value", ""))
            branch = task.cases.get(case, task.defaults)
            return self._block(branch, errors, finally_, run.id, value, self._sequence)
        if isinstance(task, ForEach | EachSequential | EachParallel):
            values = list((run.decision or {}).get("values", []))
            return self._block(
                task.tasks,
                errors,
                finally_,
                run.id,
                value,
                lambda specs, p, v: self._iterations(specs, p, values, task.limit),
            )
        if isinstance(task, Dag):
            return self._block(
                [t.task for t in task.tasks],
                errors,
                finally_,
                run.id,
                value,
                lambda specs, p, v: self._dag(task, p, v),
            )
        raise ValueError(f"task {task.id}: no planner for flowable {task.type}")

    def _iterations(
        self, specs: list[TaskSpec], parent_id: str | None, values: list[str], limit: int
    ) -> State | None:
        """ForEach: each value runs `specs` in sequence; at most `limit` values at once (0: all)."""
        states: list[State] = []
        running = 0
        waiting = False
        stop = False
        for index, value in enumerate(values):
            started = any(self._find(parent_id, s.id, value) is not None for s in specs)
            if not started:
                if stop or self.killing:
                    continue
                if limit and running >= limit:
                    waiting = True
                    continue
            result = self._sequence(specs, parent_id, value, index)
            if result is None:
                running += 1
                continue
            # After a failed iteration no new one starts; those running may finish.
            stop = stop or result.is_failure
            states.append(result)
        if running or waiting:
            return None
        return State.KILLED if self.killing else worst(states)

    def _dag(self, task: Dag, parent_id: str | None, value: str | None) -> State | None:
        states: dict[str, State] = {}
        for node in task.tasks:
            run = self._find(parent_id, node.task.id, value)
            if run is not None and run.state.is_terminal:
                states[node.task.id] = self._counted(node.task, run.state)
        failed = any(s.is_failure for s in states.values())
        disabled = {n.task.id for n in task.tasks if n.task.disabled}
        progressed = True
        while progressed:
            progressed = False
            active = sum(
                1
                for n in task.tasks
                if (r := self._find(parent_id, n.task.id, value)) is not None
                and not r.state.is_terminal
            )
            for node in task.tasks:
                spec = node.task
                if spec.id in states or spec.disabled:
                    continue
                run = self._find(parent_id, spec.id, value)
                if run is None:
                    # A disabled dependency never gets a run: it counts as satisfied (a
                    # disabled task is not part of the flow), or the Dag would wait forever.
                    ready = all(
                        states.get(d) in (State.SUCCESS, State.WARNING, State.SKIPPED)
                        or d in disabled
                        for d in node.dependsOn
                    )
                    if (
                        failed
                        or self.killing
                        or not ready
                        or (task.concurrent and active >= task.concurrent)
                    ):
                        continue
                    active += 1
                stepped = self._child(spec, parent_id, value, None)
                if stepped is not None and stepped.state.is_terminal:
                    states[spec.id] = self._counted(spec, stepped.state)
                    failed = failed or states[spec.id].is_failure
                    progressed = True
        if any(
            (r := self._find(parent_id, n.task.id, value)) is not None and not r.state.is_terminal
            for n in task.tasks
        ):
            return None
        if self.killing:
            return State.KILLED
        if failed:
            return worst(list(states.values()))
        if len(states) < len([n for n in task.tasks if not n.task.disabled]):
            return None
        return worst(list(states.values()))


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False


def _short_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
