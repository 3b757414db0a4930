"""The Dag's loop (pure): each node once all it depends on succeeded, at most `limit`
running at once; after a failure no new node starts."""

from __future__ import annotations

from schemas.states import State, worst
from streams.core.children import ChildRunner, counted
from streams.plugins.flowable import AsDag, Scope


def as_dag(w: ChildRunner, plan: AsDag, parent_id: str | None) -> State | None:
    scope = Scope(plan.value)
    nodes = plan.nodes
    states: dict[str, State] = {}
    for node in nodes:
        run = w.find_in(parent_id, node.spec.id, scope)
        if run is not None and run.state.is_terminal:
            states[node.spec.id] = counted(node.spec, run.state)
    failed = any(s.is_failure for s in states.values())
    disabled = {n.spec.id for n in nodes if n.spec.disabled}
    progressed = True
    while progressed:
        progressed = False
        active = sum(
            1
            for n in nodes
            if (r := w.find_in(parent_id, n.spec.id, scope)) is not None and not r.state.is_terminal
        )
        for node in nodes:
            spec = node.spec
            if spec.id in states or spec.disabled:
                continue
            run = w.find_in(parent_id, spec.id, scope)
            if run is None:
                # A disabled dependency never gets a run: it counts as satisfied (a
                # disabled task is not part of the flow), or the Dag would wait forever.
                ready = all(
                    states.get(d) in (State.SUCCESS, State.WARNING, State.SKIPPED) or d in disabled
                    for d in node.depends_on
                )
                if failed or w.killing or not ready or (plan.limit and active >= plan.limit):
                    continue
                active += 1
            stepped = w.child(spec, parent_id, scope)
            if stepped is not None and stepped.state.is_terminal:
                states[spec.id] = counted(spec, stepped.state)
                failed = failed or states[spec.id].is_failure
                progressed = True
    if any(
        (r := w.find_in(parent_id, n.spec.id, scope)) is not None and not r.state.is_terminal
        for n in nodes
    ):
        return None
    if w.killing:
        return State.KILLED
    if failed:
        return worst(list(states.values()))
    if len(states) < len([n for n in nodes if not n.spec.disabled]):
        return None
    return worst(list(states.values()))
