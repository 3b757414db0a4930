"""`lanner flow ...`: commands on flow files."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.validation_output import print_results, results_as_json, validate_files
from streams.plugins.registry import PluginRegistry

app = typer.Typer(no_args_is_help=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Flow files, or directories standing for their *.yml/*.yaml files.",
            show_default=False,
        ),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="How to print the results.")
    ] = OutputFormat.TABLE,
) -> None:
    """Validate flow files; every problem of each, with its line. Exit code 1 if any."""
    results = validate_files(paths, PluginRegistry.discover())
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(results_as_json(results), indent=2))
    else:
        print_results(results, Console())
    if not all(item.valid for item in results):
        raise typer.Exit(code=1)
