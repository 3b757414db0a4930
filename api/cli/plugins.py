"""`lanner plugins list|doc`: the task types this installation knows, from the registry
and each task's pydantic model (no server needed)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic.fields import FieldInfo
from rich.console import Console
from rich.table import Table

from api.cli.output import OutputFormat, OutputOption, emit
from streams.plugins.base import Task
from streams.plugins.registry import PluginRegistry

app = typer.Typer(no_args_is_help=True)


def _summary(task: type[Task]) -> str:
    return (task.__doc__ or "").strip().splitlines()[0] if task.__doc__ else ""


def _type_name(info: FieldInfo) -> str:
    annotation = info.annotation
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or str(annotation).replace("typing.", "")


def properties(task: type[Task]) -> list[dict[str, Any]]:
    """Each property: name (its YAML alias), type, required, default, description."""
    rows: list[dict[str, Any]] = []
    for name, info in task.model_fields.items():
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        rows.append(
            {
                "name": info.alias or name,
                "type": _type_name(info),
                "required": info.is_required(),
                "default": default
                if default is None or isinstance(default, str | int | float | bool | list | dict)
                else str(default),
                "description": info.description or "",
            }
        )
    return rows


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output (as -o json).")] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Every task type: its name, Kestra aliases, kind and summary."""
    registry = PluginRegistry.discover()
    tasks = [registry.get(name) for name in registry.primary_names()]
    found = [t for t in tasks if t is not None]
    listed = [
        {
            "type": t.TYPE,
            "aliases": list(t.KESTRA_TYPES),
            "kind": t.KIND,
            "description": _summary(t),
        }
        for t in found
    ]
    if emit(listed, OutputFormat.JSON if as_json else output):
        return
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for column in ("TYPE", "KIND", "KESTRA TYPE", "DESCRIPTION"):
        table.add_column(column, overflow="fold")
    for t in found:
        table.add_row(t.TYPE, t.KIND, t.KESTRA_TYPES[0] if t.KESTRA_TYPES else "-", _summary(t))
    Console().print(table)


@app.command("doc")
def doc_command(
    type_name: Annotated[
        str, typer.Argument(metavar="TYPE", show_default=False, help="A task type, e.g. log.Log.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """A task type's documentation: description and every property."""
    registry = PluginRegistry.discover()
    task = registry.get(type_name)
    if task is None:
        near = ", ".join(registry.nearest(type_name)) or "none"
        Console(stderr=True).print(
            f"[red]error:[/red] no task type {type_name!r} (nearest: {near})"
        )
        raise typer.Exit(1)
    rows = properties(task)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "type": task.TYPE,
                    "aliases": list(task.KESTRA_TYPES),
                    "kind": task.KIND,
                    "description": (task.__doc__ or "").strip(),
                    "properties": rows,
                },
                indent=2,
                default=str,
            )
        )
        return
    console = Console()
    console.print(f"[bold]{task.TYPE}[/bold] ({task.KIND})")
    if task.KESTRA_TYPES:
        console.print(f"also: {', '.join(task.KESTRA_TYPES)}", style="dim")
    if task.__doc__:
        console.print(task.__doc__.strip())
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for column in ("PROPERTY", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            row["type"],
            "yes" if row["required"] else "",
            "" if row["default"] is None else json.dumps(row["default"], default=str),
            row["description"],
        )
    console.print(table)
