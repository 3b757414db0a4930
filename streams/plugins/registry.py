"""Finds task plugins through the `lanner.plugins` entry-point group."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from streams.core.type_names import closest_type_names
from streams.plugins.base import Task

log = logging.getLogger(__name__)

# Keep in step with [project.entry-points."lanner.plugins"] in pyproject.toml.
BUILT_IN = (
    "streams.plugins.core",
    "streams.plugins.scripts",
    "streams.plugins.http",
    "streams.plugins.kv",
    "streams.plugins.jdbc",
    "streams.plugins.serdes",
    "streams.plugins.namespace",
    "streams.plugins.notifications",
    "streams.plugins.kafka",
    "streams.plugins.elasticsearch",
)


def _load(module: str) -> list[type[Task]]:
    try:
        plugins: list[type[Task]] = importlib.import_module(module).PLUGINS
    except ModuleNotFoundError as exc:
        # A built-in plugin whose optional extra is not installed (e.g. `lanner[data]`
        # for the SQL and file-format tasks): its task types are unknown, nothing else.
        log.warning("plugin needs an extra", extra={"plugin": module, "missing": exc.name})
        return []
    return plugins


@dataclass(frozen=True)
class PluginRegistry:
    by_name: dict[str, type[Task]]

    @classmethod
    def discover(cls) -> PluginRegistry:
        classes: list[type[Task]] = []
        modules: set[str] = set()
        for entry in entry_points(group="lanner.plugins"):
            modules.add(entry.module)
            try:
                loaded = entry.load()
            except Exception:  # a broken third-party plugin must not stop the system
                log.exception("plugin entry point failed to load", extra={"plugin": entry.name})
                continue
            classes.extend(loaded if isinstance(loaded, list) else [loaded])
        # The plugins that ship with Lanner work from a source tree whose installed entry
        # points are missing or older than the tree (an editable install made before a
        # built-in plugin was added); third-party ones need installing.
        for module in BUILT_IN:
            if module not in modules:
                classes.extend(_load(module))
        return cls.of(classes)

    @classmethod
    def of(cls, classes: list[type[Task]]) -> PluginRegistry:
        by_name: dict[str, type[Task]] = {}
        for plugin in classes:
            for name in plugin.names():
                by_name[name] = plugin
        return cls(by_name)

    def get(self, type_name: str) -> type[Task] | None:
        return self.by_name.get(type_name)

    def aliases(self, type_name: str) -> tuple[str, ...]:
        """Every name the plugin of `type_name` answers to (none for an unknown type)."""
        plugin = self.get(type_name)
        return plugin.names() if plugin is not None else ()

    def nearest(self, type_name: str, count: int = 2) -> list[str]:
        """Known task types close to an unknown one (by class and plugin group), or []."""
        return closest_type_names(type_name, self.by_name, count)

    def primary_names(self) -> list[str]:
        return sorted({plugin.TYPE for plugin in self.by_name.values()})
