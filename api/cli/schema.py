"""`lanner schema ...`: JSON Schemas of the flow language, for editors and tools."""

from __future__ import annotations

import json

import typer

from streams.plugins.jsonschema import flow_json_schema
from streams.plugins.registry import PluginRegistry

app = typer.Typer(no_args_is_help=True)


@app.command("flow")
def flow_schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of flows, with every installed task type."""
    typer.echo(json.dumps(flow_json_schema(PluginRegistry.discover()), indent=2))
