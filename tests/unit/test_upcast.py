"""Older event versions still decode: a synthetic v0 TaskRunCreated and FlowCreated are
upcast through registered upcasters by the same adapters every reader uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import upcasting
from schemas.decode import decode_execution_event, decode_flow_event
from schemas.events import EVENT_VERSION, FlowCreated, TaskRunCreated
from schemas.upcasting import UpcastError

V0_TASK_RUN_CREATED: dict[str, Any] = {
    # v0 (synthetic): camelCase run ids and no correlation id of its own.
    "type": "TaskRunCreated",
    "version": 0,
    "execution_id": "e1",
    "seq": 2,
    "time": "2026-01-01T00:00:00Z",
    "causation_id": "command:c1",
    "taskRunId": "r1",
    "taskId": "hello",
}


def _task_run_created_v0(data: dict[str, Any]) -> dict[str, Any]:
    data["task_run_id"] = data.pop("taskRunId")
    data["task_id"] = data.pop("taskId")
    data.setdefault("correlation_id", data["causation_id"])
    return data


@pytest.fixture
def v0_registered() -> Iterator[None]:
    upcasting.register("TaskRunCreated", 0)(_task_run_created_v0)
    upcasting.register("FlowCreated", 0)(lambda d: {**d, "actor": d.pop("user", "system")})
    try:
        yield
    finally:
        upcasting.unregister("TaskRunCreated", 0)
        upcasting.unregister("FlowCreated", 0)


def test_a_v0_execution_event_decodes_as_current(v0_registered: None) -> None:
    for raw in (V0_TASK_RUN_CREATED, json.dumps(V0_TASK_RUN_CREATED).encode()):
        event = decode_execution_event(raw)
        assert isinstance(event, TaskRunCreated)
        assert (event.task_run_id, event.task_id, event.version) == ("r1", "hello", EVENT_VERSION)
        assert event.correlation_id == "command:c1"


def test_a_v0_flow_event_decodes_as_current(v0_registered: None) -> None:
    raw = {
        "type": "FlowCreated",
        "version": 0,
        "event_id": "f1",
        "tenant": "main",
        "namespace": "n",
        "flow_id": "f",
        "revision": 1,
        "time": "2026-01-01T00:00:00Z",
        "user": "ada",
        "source": "id: f",
    }
    event = decode_flow_event(json.dumps(raw))
    assert isinstance(event, FlowCreated) and event.actor == "ada"


def test_without_an_upcaster_an_old_version_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="no upcaster for TaskRunCreated v0"):
        decode_execution_event(V0_TASK_RUN_CREATED)


def test_a_version_newer_than_the_code_is_refused() -> None:
    raw = {**V0_TASK_RUN_CREATED, "version": EVENT_VERSION + 1}
    with pytest.raises(ValidationError, match="newer than this code knows"):
        decode_execution_event(raw)


def test_current_events_pass_untouched_and_unversioned_ones_are_v1() -> None:
    current = {**_task_run_created_v0(dict(V0_TASK_RUN_CREATED)), "version": EVENT_VERSION}
    assert decode_execution_event(current).version == EVENT_VERSION
    unversioned = {k: v for k, v in current.items() if k != "version"}
    assert decode_execution_event(unversioned).version == 1


def test_upcast_chain_and_double_registration() -> None:
    current = {"X": 3}
    upcasting.register("X", 1)(lambda d: {**d, "a": 1})
    upcasting.register("X", 2)(lambda d: {**d, "b": d["a"] + 1})
    try:
        assert upcasting.upcast({"type": "X", "version": 1}, current) == {
            "type": "X",
            "version": 3,
            "a": 1,
            "b": 2,
        }
        with pytest.raises(ValueError, match="exists already"):
            upcasting.register("X", 1)(lambda d: d)
        with pytest.raises(UpcastError):
            upcasting.upcast({"type": "X", "version": "one"}, current)
    finally:
        upcasting.unregister("X", 1)
        upcasting.unregister("X", 2)
