"""The built-in plugin list matches the entry points the distribution declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streams.plugins.registry import BUILT_IN, PluginRegistry

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_built_in_plugins_match_the_declared_entry_points() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["lanner.plugins"]
    assert sorted(value.split(":")[0] for value in declared.values()) == sorted(BUILT_IN)


def test_every_built_in_task_type_resolves_by_kestra_and_short_name() -> None:
    registry = PluginRegistry.discover()
    for name in (
        "io.kestra.plugin.core.log.Log",
        "log.Log",
        "io.kestra.plugin.scripts.shell.Commands",
        "io.kestra.plugin.scripts.python.Script",
        "io.kestra.plugin.core.http.Request",
        "io.kestra.plugin.core.kv.Set",
    ):
        assert registry.get(name) is not None, name
