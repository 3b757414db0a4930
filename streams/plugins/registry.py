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
    "streams.plugins.kafka",
    "streams.plugins.elasticsearch",
)


def _load(module: str) -> list[type[Task]]:
    plugins: list[type[Task]] = importlib.import_module(module).PLUGINS
    return plugins


@dataclass(frozen=True)
class PluginRegistry:
    by_name: dict[str, type[Task]]

    @classmethod
    def discover(cls) -> PluginRegistry:
        classes: list[type[Task]] = []
        for entry in entry_points(group="lanner.plugins"):
            try:
                loaded = entry.load()
            except Exception:  # a broken third-party plugin must not stop the system
                log.exception("plugin entry point failed to load", extra={"plugin": entry.name})
                continue
            classes.extend(loaded if isinstance(loaded, list) else [loaded])
        if not classes:
            # Running from a source tree that was not installed (no entry points): the
            # plugins that ship with Lanner still work, third-party ones need installing.
            classes = [plugin for module in BUILT_IN for plugin in _load(module)]
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
