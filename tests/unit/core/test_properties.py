"""Property-based tests: random flows from a small grammar, random worker outcomes,
random interleavings (and sometimes a kill), run to the end by the simulator."""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.commands import (
    ExecutorMessage,
    KillExecution,
    ResumeExecution,
    SubflowEnded,
    WakeUp,
)
from schemas.states import State
from streams.core.decide import decide
from tests.unit.core.driver import ReportKind, Result, Sim, redecide
from tests.unit.core.helpers import assert_legal_histories, flow

K = "io.kestra.plugin.core"
SETTINGS = settings(
    # Modest by default so that the unit suite stays fast; raise it to hunt for bugs.
    max_examples=int(os.environ.get("LANNER_CORE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the grammar ----------------------------------------------------------------------

_common = st.fixed_dictionaries(
    {},
    optional={
        "runIf": st.sampled_from(["{{ true }}", "{{ false }}", "{{ 1 == 1 }}"]),
        "allowFailure": st.booleans(),
        "disabled": st.just(True),
    },
).filter(lambda d: not d.get("disabled") or len(d) == 1)

_leaf = st.one_of(
    st.builds(
        lambda f: {"type": f"{K}.debug.Return", "format": f}, st.sampled_from(["x", "{{ 2 }}"])
    ),
    st.just({"type": f"{K}.log.Log", "message": "hello {{ task.id }}"}),
    st.builds(
        lambda c: {"type": f"{K}.execution.Fail", **({"condition": c} if c else {})},
        st.sampled_from([None, "{{ true }}", "{{ false }}"]),
    ),
    st.just({"type": f"{K}.flow.Sleep", "duration": "PT1S"}),
    st.just({"type": f"{K}.flow.Sleep", "duration": "PT1S"}),
    st.just({"type": f"{K}.flow.Pause", "pauseDuration": "PT1M"}),
    st.just({"type": f"{K}.flow.Pause"}),
)


def _containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    some = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        st.builds(lambda t: {"type": f"{K}.flow.Sequential", "tasks": t}, some),
        st.builds(
            lambda t, c: {"type": f"{K}.flow.Parallel", "tasks": t, "concurrent": c},
            some,
            st.integers(0, 2),
        ),
        st.builds(
            lambda c, t, e: {"type": f"{K}.flow.If", "condition": c, "then": t, "else": e},
            st.sampled_from(["{{ true }}", "{{ false }}"]),
            some,
            st.lists(children, max_size=2),
        ),
        st.builds(
            lambda v, c, t: {
                "type": f"{K}.flow.ForEach",
                "values": v,
                "concurrencyLimit": c,
                "tasks": t,
            },
            st.lists(st.sampled_from("abc"), min_size=0, max_size=3, unique=True),
            st.integers(0, 2),
            st.lists(children, min_size=1, max_size=2),
        ),
        st.builds(lambda t: {"type": f"{K}.flow.AllowFailure", "tasks": t}, some),
        st.builds(
            lambda t: {
                "type": f"{K}.flow.Dag",
                "tasks": [{"task": task, "dependsOn": []} for task in t],
            },
            some,
        ),
    )


def _with_common(task: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda t, c: {**t, **c}, task, _common)


_task = st.recursive(_with_common(_leaf), lambda c: _with_common(_containers(c)), max_leaves=8)


@dataclass
class Case:
    source: str
    sleeps: list[str]
    outcomes: dict[str, Result]
    seed: int
    kill_after: int | None


def _number(tasks: list[dict[str, Any]], counter: itertools.count[int], sleeps: list[str]) -> None:
    for task in tasks:
        task["id"] = f"t{next(counter)}"
        if task["type"].endswith("Sleep"):
            sleeps.append(task["id"])
        if not task["type"].endswith("Dag"):
            for key in ("tasks", "then", "else"):
                if key in task:
                    _number(task[key], counter, sleeps)
        else:
            inner = [n["task"] for n in task["tasks"]]
            _number(inner, counter, sleeps)
            ids = [t["id"] for t in inner]
            # Each node depends on the ones before it at even positions: acyclic by order.
            for i, node in enumerate(task["tasks"]):
                node["dependsOn"] = [d for j, d in enumerate(ids[:i]) if j % 2 == 0]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # Deep copies: the grammar's examples may share dicts, and numbering mutates them.
    tasks = copy.deepcopy(draw(st.lists(_task, min_size=1, max_size=3)))
    errors = copy.deepcopy(draw(st.lists(_task, max_size=1)))
    finally_ = copy.deepcopy(draw(st.lists(_task, max_size=1)))
    counter = itertools.count(1)
    sleeps: list[str] = []
    for block in (tasks, errors, finally_):
        _number(block, counter, sleeps)
    body: dict[str, Any] = {"tasks": tasks}
    if errors:
        body["errors"] = errors
    if finally_:
        body["finally"] = finally_
    outcomes = {
        s: Result(
            draw(st.sampled_from([State.SUCCESS, State.SUCCESS, State.FAILED, State.WARNING]))
        )
        for s in sleeps
    }
    kill_after = draw(st.one_of(st.none(), st.integers(0, 6)))
    return Case(
        flow(yaml.safe_dump(body, sort_keys=False)),
        sleeps,
        outcomes,
        draw(st.integers(0, 2**16)),
        kill_after,
    )


def _simulate(case: Case, duplicates: bool = False) -> Sim:
    sim = Sim(case.source, outcomes=case.outcomes, seed=case.seed, duplicates=duplicates)
    sim.queue.append(sim.create("f"))
    if case.kill_after is not None:
        sim.advance(case.kill_after)
        sim.queue.append(sim.kill())
    sim.run()
    while sim.state().state == State.PAUSED:
        # A Pause without a duration waits for an operator: resume it.
        sim.queue.append(sim.resume())
        sim.run()
    return sim


# --- the properties -------------------------------------------------------------------


@SETTINGS
@given(cases())
def test_random_flows_end_and_keep_their_invariants(case: Case) -> None:
    sim = _simulate(case)
    final = sim.state()
    # (a) the execution always reaches a terminal state
    assert final.state.is_terminal, (final.state, case.source)
    assert all(r.state.is_terminal for r in final.task_runs.values())
    if case.kill_after is None:
        assert final.state != State.KILLED
    # (c) folding the history reproduces the kept state; (d) seqs are 1..n, gapless
    sim.check()
    assert_legal_histories(final)
    # (b) terminal states are absorbing
    _assert_absorbing(sim)
    # history verification reproduces every recorded step
    assert redecide(sim) == []


def _assert_absorbing(sim: Sim) -> None:
    final = sim.state()
    flow_ = sim.flow_of("e1")
    later: list[ExecutorMessage] = []
    for job in sim.jobs:
        kinds: list[tuple[ReportKind, State | None]] = [
            ("started", None),
            ("finished", State.SUCCESS),
            ("finished", State.FAILED),
        ]
        for kind, state in kinds:
            later.append(sim.report(job, kind=kind, state=state))
            later.append(sim.report(job, kind=kind, state=state, attempt=job.attempt + 1))
    later += [sim.kill(), sim.resume()]
    for run in final.task_runs.values():
        later.append(sim.wake(run.id, sim.now))
        later.append(
            SubflowEnded(
                command_id=f"late:{run.id}",
                execution_id="e1",
                time=sim.now,
                task_run_id=run.id,
                child_execution_id="x",
                state=State.SUCCESS,
            )
        )
    for inp in later:
        assert decide(flow_, final, inp, sim.catalog) == [], inp
    # Fresh inputs through `handle` as well (redelivered ones would re-emit, by design).
    for inp in (sim.kill(), sim.resume()):
        assert isinstance(inp, KillExecution | ResumeExecution | WakeUp)
        assert sim.send(inp) == []
    assert sim.state() == final


@SETTINGS
@given(cases())
def test_random_flows_are_deterministic(case: Case) -> None:
    # (e) the same inputs give the very same events
    first, second = _simulate(case), _simulate(case)
    dump = {k: [e.model_dump() for e in v] for k, v in first.events.items()}
    assert dump == {k: [e.model_dump() for e in v] for k, v in second.events.items()}
    assert first.state() == second.state()


@SETTINGS
@given(cases())
def test_random_flows_under_at_least_once_delivery(case: Case) -> None:
    # (f) every input delivered twice (and some delivered again later) changes nothing
    once = _simulate(case)
    twice = _simulate(case, duplicates=True)
    distinct = {(e.execution_id, e.seq): e for d in twice.log for e in d.events}
    assert distinct == {(e.execution_id, e.seq): e for e in once.events["e1"]}
    assert twice.state() == once.state()
    assert twice.events == once.events
    originals = [d for d in twice.log if not d.redelivered]
    replayed = [d for d in twice.log if d.redelivered]
    assert len(originals) == len(once.log)
    assert len(replayed) >= len(originals)
    ids = {d.inp.message_id for d in originals}
    assert all(d.inp.message_id in ids for d in replayed)
    # Once more at the end, everything replays with its original events; an input that
    # arrived before its execution existed waited (no events then) and re-emits what it
    # caused once the execution was created.
    applied_late = {e.causation_id for d in originals for e in d.events} - {
        d.inp.message_id for d in originals if d.events
    }
    for before, again in zip(originals, twice.redeliver_all(), strict=True):
        assert again.redelivered
        if before.inp.message_id in applied_late:
            assert before.events == [] and all(
                e.causation_id == before.inp.message_id for e in again.events
            )
        else:
            assert again.events == before.events
    assert twice.state() == once.state()
