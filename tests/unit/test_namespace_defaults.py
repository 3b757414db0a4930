"""Namespace pluginDefaults: their order (the flow's own, then the namespace's, then its
parents'), Kestra's precedence with forced ones, and that a revision keeps the defaults
it was written with (the catalog validates it with exactly those)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas.events import FlowCreated, FlowUpdated
from schemas.flow import PluginDefault
from streams.core.validation import ValidatedFlow, validate_flow
from streams.flow_catalog import FlowSources
from streams.plugins.namespace.defaults import (
    NamespaceDefaultsFold,
    NamespaceDefaultsSet,
    parents_first_to_last,
)
from streams.plugins.registry import PluginRegistry

LOG = "io.kestra.plugin.core.log.Log"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REGISTRY = PluginRegistry.discover()

NO_MESSAGE = f"""\
id: hello
namespace: company.team.sub
tasks:
  - id: say
    type: {LOG}
"""


def _set(namespace: str, *defaults: dict[str, Any]) -> NamespaceDefaultsSet:
    return NamespaceDefaultsSet(
        tenant="main",
        namespace=namespace,
        plugin_defaults=[PluginDefault.model_validate(d) for d in defaults],
        time=T0,
        actor="test",
    )


def _task(source: str, defaults: list[dict[str, Any]]) -> dict[str, Any]:
    result = validate_flow(source, REGISTRY, namespace_defaults=defaults)
    assert isinstance(result, ValidatedFlow), result
    return result.tasks["say"].model_dump()


def test_the_namespace_comes_before_its_parents() -> None:
    assert parents_first_to_last("a.b.c") == ["a.b.c", "a.b", "a"]
    fold = NamespaceDefaultsFold()
    fold.apply(_set("company", {"type": LOG, "values": {"message": "company"}}))
    fold.apply(_set("company.team", {"type": LOG, "values": {"message": "team"}}))
    in_force = fold.in_force("main", "company.team.sub")
    assert [d["values"]["message"] for d in in_force] == ["team", "company"]
    # The last set wins; a change can be checked before it is set.
    fold.apply(_set("company.team"))
    assert [d["values"]["message"] for d in fold.in_force("main", "company.team.sub")] == [
        "company"
    ]
    changed = PluginDefault(type=LOG, values={"message": "new"})
    with_change = fold.in_force("main", "company.team.sub", ("company.team", [changed]))
    assert [d["values"]["message"] for d in with_change] == ["new", "company"]
    assert fold.in_force("other", "company.team") == []


def test_a_namespace_default_fills_a_required_property() -> None:
    assert isinstance(validate_flow(NO_MESSAGE, REGISTRY), list)  # message is required
    task = _task(NO_MESSAGE, [{"type": LOG, "values": {"message": "from the namespace"}}])
    assert task["message"] == "from the namespace"


def test_the_flows_own_defaults_win_unless_the_namespace_forces() -> None:
    own = NO_MESSAGE + (
        f"pluginDefaults:\n  - type: {LOG}\n    values:\n      message: from the flow\n"
        "      level: WARN\n"
    )
    namespace = [{"type": "io.kestra.plugin.core", "values": {"message": "ns", "level": "ERROR"}}]
    assert _task(own, namespace)["message"] == "from the flow"
    forced = [{"type": LOG, "forced": True, "values": {"level": "DEBUG"}}]
    task = _task(own, forced)
    assert (task["message"], task["level"]) == ("from the flow", "DEBUG")
    # Of two forced defaults, the flow's (more important) wins.
    flow_forced = own.replace("  - type:", "  - forced: true\n    type:")
    assert _task(flow_forced, forced)["level"] == "WARN"


def _written(revision: int, defaults: list[dict[str, Any]]) -> FlowCreated | FlowUpdated:
    common: dict[str, Any] = {
        "event_id": f"e{revision}",
        "tenant": "main",
        "namespace": "company.team.sub",
        "flow_id": "hello",
        "revision": revision,
        "time": T0,
        "actor": "test",
        "source": NO_MESSAGE,
        "namespace_defaults": defaults,
    }
    return FlowCreated(**common) if revision == 1 else FlowUpdated(**common)


def test_a_revision_keeps_the_namespace_defaults_it_was_written_with() -> None:
    catalog = FlowSources(REGISTRY)
    catalog.apply(_written(1, [{"type": LOG, "values": {"message": "first"}}]))
    catalog.apply(_written(2, [{"type": LOG, "values": {"message": "second"}}]))
    for revision, message in ((1, "first"), (2, "second"), (None, "second")):
        found = catalog.get("main", "company.team.sub", "hello", revision)
        assert found is not None and found.tasks["say"].model_dump()["message"] == message
    # An event written before namespace defaults existed reads as before (none).
    legacy = FlowCreated.model_validate_json(
        '{"event_id": "x", "tenant": "main", "namespace": "n", "flow_id": "f", "revision": 1,'
        ' "time": "2026-01-01T00:00:00Z", "actor": "a", "source": "id: f"}'
    )
    assert legacy.namespace_defaults == []
