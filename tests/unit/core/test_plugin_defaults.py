"""pluginDefaults (and the older taskDefaults), with Kestra's precedence, in a real run."""

from __future__ import annotations

from schemas.states import State
from streams.core.plugin_defaults import apply_plugin_defaults, merge
from tests.unit.core.helpers import run

LOG = "io.kestra.plugin.core.log.Log"


def _no_aliases(type_name: str) -> tuple[str, ...]:
    return ()


def test_merge_is_deep_joins_lists_and_never_erases_with_none() -> None:
    base = {"a": {"x": 1, "y": 2}, "l": [1], "keep": "me"}
    over = {"a": {"y": 3}, "l": [2], "keep": None, "new": True}
    assert merge(base, over) == {"a": {"x": 1, "y": 3}, "l": [1, 2], "keep": "me", "new": True}


def test_a_task_wins_over_a_default_and_a_forced_default_wins_over_the_task() -> None:
    data = {
        "tasks": [{"id": "t", "type": "a.b.Log", "level": "WARN"}],
        "pluginDefaults": [
            {"type": "a.b.Log", "values": {"level": "ERROR", "message": "m"}},
            {"type": "a.b", "forced": True, "values": {"message": "forced"}},
        ],
    }
    applied = apply_plugin_defaults(data, data["pluginDefaults"], _no_aliases)
    assert applied["tasks"] == [
        {"id": "t", "type": "a.b.Log", "level": "WARN", "message": "forced"}
    ]
    assert applied["pluginDefaults"] == data["pluginDefaults"]


def test_the_first_forced_default_declared_wins() -> None:
    data = {"tasks": [{"id": "t", "type": "x.Y"}]}
    defaults = [
        {"type": "x.Y", "forced": True, "values": {"v": "first"}},
        {"type": "x", "forced": True, "values": {"v": "second"}},
    ]
    assert apply_plugin_defaults(data, defaults, _no_aliases)["tasks"][0]["v"] == "first"


def test_defaults_reach_nested_tasks_and_other_names_of_the_type() -> None:
    sim = run(
        f"""
        pluginDefaults:
          - type: {LOG}
            values:
              message: "defaulted {{{{ task.id }}}}"
              level: WARN
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: old_name
                type: io.kestra.core.tasks.log.Log
              - id: own
                type: {LOG}
                message: mine
        """
    )
    assert sim.state().state == State.SUCCESS
    logs = {
        line.task_id: (line.level, line.message)
        for e in sim.events["e1"]
        if e.type == "TaskRunSucceeded"
        for line in e.logs
    }
    assert logs["old_name"] == ("WARN", "defaulted old_name")
    assert logs["own"] == ("WARN", "mine")


def test_task_defaults_is_the_older_spelling() -> None:
    sim = run(
        f"""
        taskDefaults:
          - type: {LOG}
            values:
              message: from taskDefaults
        tasks:
          - id: t
            type: {LOG}
        """
    )
    ended = next(e for e in sim.events["e1"] if e.type == "TaskRunSucceeded")
    assert [line.message for line in ended.logs] == ["from taskDefaults"]
