"""`lanner namespace list|tree`: the namespaces that hold flows (from the flows search);
`lanner namespace files ...`: their files (api/cli/namespace_files.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.tree import Tree

from api.cli import namespace_defaults, namespace_files
from api.cli.output import OutputFormat, OutputOption, call, console, emit

app = typer.Typer(no_args_is_help=True)
app.add_typer(
    namespace_files.app, name="files", help="A namespace's files: list, get, upload, delete."
)
app.add_typer(
    namespace_defaults.app, name="defaults", help="A namespace's pluginDefaults: get, set."
)
Prefix = Annotated[
    str | None, typer.Option("--prefix", help="Only this namespace and its children.")
]


def _namespaces(prefix: str | None) -> dict[str, int]:
    """Every namespace with a flow, and its parents: {namespace: flows directly in it}."""
    flows = call(lambda c: c.search_flows(prefix))
    counts: dict[str, int] = {}
    for flow in flows:
        parts = str(flow["namespace"]).split(".")
        for i in range(len(parts)):
            counts.setdefault(".".join(parts[: i + 1]), 0)
        counts[str(flow["namespace"])] += 1
    return {
        name: counts[name]
        for name in sorted(counts)
        if prefix is None or name == prefix or name.startswith(f"{prefix}.")
    }


@app.command("list")
def list_command(prefix: Prefix = None, output: OutputOption = OutputFormat.TABLE) -> None:
    """Every namespace with at least one flow, with its parents, sorted."""
    found = _namespaces(prefix)
    if emit([{"namespace": name, "flows": count} for name, count in found.items()], output):
        return
    for name in found:
        typer.echo(name)


@app.command("tree")
def tree_command(prefix: Prefix = None, output: OutputOption = OutputFormat.TABLE) -> None:
    """The namespaces as a tree, with how many flows each holds."""
    found = _namespaces(prefix)
    nested: dict[str, Any] = {}
    for name in found:
        level = nested
        for part in name.split("."):
            level = level.setdefault(part, {})
    if emit(nested, output):
        return
    root = Tree(prefix or "namespaces", guide_style="dim")

    def add(parent: Tree, children: dict[str, Any], path: str) -> None:
        for part, grandchildren in children.items():
            full = f"{path}.{part}" if path else part
            count = found.get(full, 0)
            branch = parent.add(f"{part}" + (f"  [dim]{count} flow(s)[/dim]" if count else ""))
            add(branch, grandchildren, full)

    add(root, nested, "")
    console.print(root)
