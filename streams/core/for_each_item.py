"""ForEachItem in the executor (pure): the commands that start and kill the subflow
executions of `<id>_items` (which ForEachItemExecutable decides, in
streams/plugins/core/for_each_item.py), how their ends are counted, and what
`<id>_merge` is given.

Kestra's model, kept: `<id>_split` (a worker) lists the batch files; `<id>_items` starts
one subflow execution per batch, all at once, each rendered with `taskrun.items` (the
batch's URI) and `taskrun.iteration` (1-based); with `wait`, the run counts its children's
end states in `outputs.iterations` and ends once they all have, FAILED if one failed (with
`transmitFailed`), else KILLED if one was killed, else WARNING if one warned. The run's
decision lists its children; the outputs they ended with are kept there too (`ended`),
for `<id>_merge`, which a worker turns into one Ion file (`subflowOutputs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.commands import CreateExecution, KillExecution, SubflowEnded
from schemas.events import SubflowIterationEnded, TaskRunStarted
from schemas.execution import Execution, ParentRef, TaskRun
from schemas.flow import FlowRef
from schemas.states import State
from streams.plugins.core.for_each_item import BASE_URI, ITERATIONS, NUMBER_OF_BATCHES, base_uri

if TYPE_CHECKING:
    from streams.core.emitter import Emitter
    from streams.plugins.core.for_each_item import ForEachItemMergeOutputs
    from streams.plugins.flowable import ExecutionView

_TERMINAL = (State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED)


def is_iterative(run: TaskRun) -> bool:
    """Whether `run` is a ForEachItem's `<id>_items` run that has started its children."""
    return run.decision is not None and "children" in run.decision


# --- starting the subflow executions (decided by ForEachItemExecutable) -------------


def create_children(state: Execution, event: TaskRunStarted) -> list[CreateExecution]:
    decision = event.decision or {}
    run = state.task_runs[event.task_run_id]
    flow = FlowRef(
        tenant=state.tenant,
        namespace=str(decision["namespace"]),
        flow_id=str(decision["flowId"]),
        revision=int(decision["revision"]),
    )
    parent = ParentRef(
        execution_id=state.id, task_run_id=run.id, namespace=state.namespace, flow_id=state.flow_id
    )
    return [
        CreateExecution(
            command_id=f"create:{child['executionId']}",
            execution_id=str(child["executionId"]),
            time=event.time,
            actor=f"subflow:{state.namespace}.{state.flow_id}",
            correlation_id=state.correlation_id,
            flow=flow,
            inputs=dict(child.get("inputs") or {}),
            labels=dict(decision.get("labels") or {}),
            parent=parent,
        )
        for child in decision.get("children", [])
    ]


def kill_children(state: Execution, run: TaskRun, time: Any, actor: str, seq: int) -> list[Any]:
    """Kill commands for the children of a killed run that have not ended yet."""
    decision = run.decision or {}
    ended = decision.get("ended", {})
    return [
        KillExecution(
            command_id=f"kill:{child['executionId']}:{state.id}:{seq}",
            execution_id=str(child["executionId"]),
            time=time,
            actor=actor,
            correlation_id=state.correlation_id,
        )
        for child in decision.get("children", [])
        if child["executionId"] not in ended
    ]


# --- counting the ends ------------------------------------------------------------------


def on_child_ended(em: Emitter, run: TaskRun, cmd: SubflowEnded) -> None:
    decision = run.decision or {}
    known = {c["executionId"] for c in decision.get("children", [])}
    if cmd.child_execution_id not in known or cmd.child_execution_id in decision.get("ended", {}):
        return  # not one of its children, or a redelivery
    state = cmd.state if cmd.state in _TERMINAL else State.FAILED
    em.emit(
        SubflowIterationEnded,
        task_run_id=run.id,
        child_execution_id=cmd.child_execution_id,
        state=state,
        outputs=cmd.outputs,
    )
    run = em.current.task_runs[run.id]
    iterations: dict[str, int] = run.outputs[ITERATIONS]
    count = len(known)
    if sum(iterations.get(s.value, 0) for s in _TERMINAL) < count:
        return
    final = terminal_state(iterations) if decision.get("transmitFailed", True) else State.SUCCESS
    outputs = {
        ITERATIONS: iterations,
        NUMBER_OF_BATCHES: count,
        BASE_URI: base_uri(em.current, run),
    }
    failed = iterations.get(final.value, 0)
    error = f"{failed} of {count} subflow executions ended {final}" if final.is_failure else None
    em.end_task_run(run.id, final, outputs=outputs, error=error)


def terminal_state(iterations: dict[str, int]) -> State:
    """Kestra's findTerminalState (the `_items` run itself allows no failure)."""
    for state in (State.FAILED, State.KILLED, State.WARNING):
        if iterations.get(state.value, 0) > 0:
            return state
    return State.SUCCESS


def record(run: TaskRun, event: SubflowIterationEnded) -> TaskRun:
    """The run once one child ended (evolve): the counters, and the child's outputs."""
    decision = dict(run.decision or {})
    count = len(decision.get("children", []))
    # The first end of this start's children (a restarted run keeps its old outputs).
    first = not decision.get("ended")
    iterations = (
        {State.CREATED.value: 0, State.RUNNING.value: count}
        if first
        else dict(run.outputs.get(ITERATIONS) or {})
    )
    iterations[State.RUNNING.value] = iterations.get(State.RUNNING.value, count) - 1
    iterations[event.state.value] = iterations.get(event.state.value, 0) + 1
    ended = dict(decision.get("ended", {}))
    ended[event.child_execution_id] = {"state": event.state.value, "outputs": event.outputs}
    decision["ended"] = ended
    outputs = {ITERATIONS: iterations, NUMBER_OF_BATCHES: count}
    return run.model_copy(update={"outputs": outputs, "decision": decision})


# --- merging the outputs ------------------------------------------------------------------


def with_results(
    view: ExecutionView, run: TaskRun, task: ForEachItemMergeOutputs
) -> ForEachItemMergeOutputs:
    """The merge task, given the outputs of the children (in batch order) that had some."""
    items = view.find(run.parent_id, task.items_id, run.value)
    decision = (items.decision if items is not None else None) or {}
    ended = decision.get("ended", {})
    results = [
        ended[child["executionId"]]["outputs"]
        for child in sorted(decision.get("children", []), key=lambda c: int(c["iteration"]))
        if ended.get(child["executionId"], {}).get("outputs")
    ]
    raw = task.model_dump(by_alias=True, exclude_unset=True)
    return type(task).model_validate({**raw, "results": results})
