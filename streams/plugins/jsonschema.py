"""The JSON Schema of the flow language, with every installed task plugin's properties.

`schemas` knows tasks only as `TaskSpec` (their common properties), because the set of
task types is open. Here, where the registry is known, the `TaskSpec` definition is
replaced by a `oneOf` of every plugin's model, each told apart by its `type` names, so
an editor (the YAML language server) can complete and check each task's properties,
nested task lists included: they refer to the same definition.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from schemas.flow import Flow, TaskSpec
from streams.plugins.base import Task
from streams.plugins.registry import PluginRegistry

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_REF = "#/$defs/{model}"


def flow_json_schema(registry: PluginRegistry) -> dict[str, Any]:
    # One generation for all models, so pydantic keeps $defs names unique across plugins.
    plugins = _unique_plugins(registry)
    mode: JsonSchemaMode = "validation"
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (Flow, mode),
        (TaskSpec, mode),
        *((plugin, mode) for plugin in plugins),
    ]
    refs, generated = models_json_schema(models, ref_template=_REF)
    defs: dict[str, Any] = generated.get("$defs", {})

    def def_name(model: type[BaseModel]) -> str:
        return str(refs[(model, mode)]["$ref"]).removeprefix("#/$defs/")

    alternatives = []
    for plugin in plugins:
        definition = defs[def_name(plugin)]
        names = list(plugin.names())
        type_schema: dict[str, Any] = {"const": names[0]} if len(names) == 1 else {"enum": names}
        definition["properties"]["type"] = {"title": "Type", "type": "string", **type_schema}
        alternatives.append({"$ref": _REF.format(model=def_name(plugin))})
    defs[def_name(TaskSpec)] = {
        "title": "Task",
        "description": "A task; its `type` says which plugin runs it and which properties it has.",
        "oneOf": alternatives,
    }

    flow_schema = dict(defs.pop(def_name(Flow)))
    return {
        "$schema": DRAFT,
        "$id": "https://lanner.dev/schemas/flow.json",
        **flow_schema,
        "title": "Lanner flow",
        "$defs": defs,
    }


def _unique_plugins(registry: PluginRegistry) -> list[type[Task]]:
    """Each plugin once (it is registered under each of its names), by its primary name."""
    unique = {plugin.TYPE: plugin for plugin in registry.by_name.values()}
    return [unique[name] for name in sorted(unique)]
