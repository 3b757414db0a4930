"""A flow's SLAs, checked by the executor after each input (pure).

MAX_DURATION: the execution records its deadline (ExecutionDeadlineSet) as it is created,
and the timer that event sets wakes it then (effects.py); from then on the deadline is
passed, whatever input the decision is for. EXECUTION_ASSERTION: `assert` is rendered
each time the execution changes, before the walk. As in Kestra, only the first
violation found acts: its labels are added, and FAIL or CANCEL ends the execution.
An SLA whose assertion does not render is ignored (Kestra logs and ignores it).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import ExecutionDeadlineSet, ExecutionLabelsChanged
from schemas.inputs import parse_duration
from schemas.sla import ExecutionAssertionSla, MaxDurationSla
from schemas.states import State
from streams.core.bounds import DEFAULT_BOUNDS, Bounds
from streams.core.context import render_context
from streams.core.emitter import Emitter
from streams.core.expressions import ExpressionError, render_bool
from streams.core.terminate import terminate
from streams.core.validation import ValidatedFlow

_ENDS = {"FAIL": State.FAILED, "CANCEL": State.CANCELLED}


@dataclass(frozen=True)
class Violation:
    sla_id: str
    behavior: str
    labels: dict[str, str]
    reason: str


def check_slas(em: Emitter, flow: ValidatedFlow, bounds: Bounds = DEFAULT_BOUNDS) -> None:
    """Deadlines to record, and the first violation to act on, for a live execution."""
    state = em.state
    if state is None or state.state.is_terminal or not flow.flow.sla:
        return
    for sla in flow.flow.sla:
        if isinstance(sla, MaxDurationSla) and sla.id not in state.deadlines:
            deadline = state.created + parse_duration(sla.duration)
            em.emit(ExecutionDeadlineSet, sla_id=sla.id, deadline=deadline)
    if em.current.state not in (State.RUNNING, State.PAUSED):
        return  # a queued execution is not checked before it runs (as in Kestra)
    # A passed deadline and a false assertion are apart, as in Kestra (a monitor and a
    # check on change): a NONE deadline, passed for good, does not hide an assertion.
    late = _deadline_passed(em, flow)
    if late is not None:
        _act(em, late)
    if not em.current.state.is_terminal:
        assertion = _assertion_false(em, flow, bounds)
        if assertion is not None:
            _act(em, assertion)


def _act(em: Emitter, violation: Violation) -> None:
    missing = {k: v for k, v in violation.labels.items() if em.current.labels.get(k) != v}
    if missing:
        em.emit(ExecutionLabelsChanged, labels=missing)
    end = _ENDS.get(violation.behavior)
    if end is not None:
        terminate(em, end, error=f"SLA '{violation.sla_id}' violated: {violation.reason}")


def _deadline_passed(em: Emitter, flow: ValidatedFlow) -> Violation | None:
    state = em.current
    for sla in flow.flow.sla:
        if isinstance(sla, MaxDurationSla):
            deadline = state.deadlines.get(sla.id)
            if deadline is None or em.time < deadline:
                continue
            took = em.time - state.created
            reason = (
                f"execution duration of {took.total_seconds():.3f}s exceed the maximum "
                f"duration of {sla.duration}."
            )
            return Violation(sla.id, sla.behavior, sla.label_map(), reason)
    return None


def _assertion_false(em: Emitter, flow: ValidatedFlow, bounds: Bounds) -> Violation | None:
    state = em.current
    for sla in flow.flow.sla:
        if isinstance(sla, ExecutionAssertionSla):
            context = render_context(flow.flow, state, None, None)
            try:
                holds = render_bool(sla.assert_, context, now=em.time, limits=bounds.render())
            except ExpressionError:
                continue
            if not holds:
                reason = f"assertion is false: {sla.assert_}."
                return Violation(sla.id, sla.behavior, sla.label_map(), reason)
    return None
