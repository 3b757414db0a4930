"""`lanner namespace list`: the namespaces that hold flows (from the flows search)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_command(
    prefix: Annotated[str | None, typer.Option(help="Only this namespace and its children.")]
    = None,
) -> None:
    """Every namespace with at least one flow, with its parents, sorted."""
    from api.cli.flow_sync import api_call

    flows = api_call(lambda c: c.search_flows(prefix))
    names: set[str] = set()
    for flow in flows:
        parts = str(flow["namespace"]).split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    for name in sorted(n for n in names if prefix is None or n == prefix
                       or n.startswith(f"{prefix}.")):
        typer.echo(name)
