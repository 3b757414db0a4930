"""A flowable from a third-party package, found through the `lanner.plugins` entry-point
group, runs through the walk like a core one; a flowable without the protocol is
refused when its flow is validated, naming its type."""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from collections.abc import Iterator

import pytest

from schemas.states import State
from streams.core.validation import ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry
from tests.integration.task_cluster import plugin_metadata_dir
from tests.third_party.example_flowables import ENTRY_POINTS, Twice
from tests.unit.core.driver import Sim

TWICE = """
id: twice
namespace: company.team
tasks:
  - id: rounds
    type: com.example.Twice
    tasks:
      - id: hello
        type: io.kestra.plugin.core.debug.Return
        format: "round {{ taskrun.iteration }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.rounds.rounds }} rounds, last {{ outputs.hello.value }}"
"""


@pytest.fixture
def registry() -> Iterator[PluginRegistry]:
    """The plugins as an installed system finds them: the built-in ones and the example
    package's, all through entry points."""
    meta = plugin_metadata_dir(ENTRY_POINTS)
    sys.path.insert(0, str(meta))
    importlib.invalidate_caches()
    try:
        yield PluginRegistry.discover()
    finally:
        sys.path.remove(str(meta))
        importlib.invalidate_caches()
        shutil.rmtree(meta, ignore_errors=True)


def _validated(source: str, registry: PluginRegistry) -> ValidatedFlow:
    result = validate_flow(textwrap.dedent(source), registry)
    assert not isinstance(result, list), [str(p) for p in result]
    return ValidatedFlow(flow=result.flow.model_copy(update={"revision": 1}), tasks=result.tasks)


def test_the_entry_point_registers_the_third_party_flowable(registry: PluginRegistry) -> None:
    assert registry.get("com.example.Twice") is Twice
    assert registry.get("io.kestra.plugin.core.flow.Sequential") is not None


def test_a_third_party_flowable_runs_its_tasks_twice_to_success(registry: PluginRegistry) -> None:
    sim = Sim(_validated(TWICE, registry), seed=3, duplicates=True)
    sim.start("twice")
    sim.check()
    state = sim.state()
    assert state.state == State.SUCCESS
    rounds = sim.run_of("rounds")
    assert rounds.state == State.SUCCESS
    assert rounds.decision == {"rounds": [1, 2]}
    assert rounds.outputs == {"rounds": 2}
    hello = sorted(
        (r for r in state.task_runs.values() if r.task_id == "hello"),
        key=lambda r: r.iteration or 0,
    )
    assert [(r.iteration, r.state, r.outputs) for r in hello] == [
        (1, State.SUCCESS, {"value": "round 1"}),
        (2, State.SUCCESS, {"value": "round 2"}),
    ]
    assert len({r.id for r in hello}) == 2  # each round has runs of its own
    assert sim.run_of("after").outputs == {"value": "2 rounds, last round 2"}


def test_a_failure_in_the_first_round_ends_it_without_a_second(registry: PluginRegistry) -> None:
    source = TWICE.replace(
        'format: "round {{ taskrun.iteration }}"',
        'format: "{{ 1 / 0 }}"',
    )
    sim = Sim(_validated(source, registry))
    sim.start("twice")
    sim.check()
    assert sim.state().state == State.FAILED
    hello = [r for r in sim.state().task_runs.values() if r.task_id == "hello"]
    assert [(r.iteration, r.state) for r in hello] == [(1, State.FAILED)]
    assert sim.run_of("rounds").state == State.FAILED


def test_a_flowable_without_the_protocol_is_refused_at_validation(
    registry: PluginRegistry,
) -> None:
    source = """
    id: old
    namespace: company.team
    tasks:
      - id: wrapper
        type: com.example.OnlyMainSpecs
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Log
            message: hi
    """
    problems = validate_flow(textwrap.dedent(source), registry)
    assert isinstance(problems, list)
    messages = [p.message for p in problems]
    assert any(
        "com.example.OnlyMainSpecs" in m and "does not implement the flowable protocol" in m
        for m in messages
    ), messages
    assert [p.path for p in problems] == ["tasks[0].type"]
