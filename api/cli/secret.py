"""`lanner secret set|list|delete`: a namespace's secrets, through the API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli.output import OutputFormat, OutputOption, call, emit

app = typer.Typer(no_args_is_help=True)
Ns = Annotated[
    str,
    typer.Argument(
        metavar="NAMESPACE", show_default=False, help="The namespace, e.g. company.team."
    ),
]
Name = Annotated[
    str,
    typer.Argument(
        metavar="NAME", show_default=False, help="The secret's name, as in secret('NAME')."
    ),
]


@app.command("set")
def set_command(namespace: Ns, name: Name) -> None:
    """Set a secret; the value is read from stdin (never from the command line, which
    would leave it in shell histories and process lists). One trailing newline is cut."""
    value = sys.stdin.read()
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        typer.echo("error: no value on stdin", err=True)
        raise typer.Exit(2)
    call(lambda c: c.set_secret(namespace, name, value))
    typer.echo(f"secret {name} set in {namespace}", err=True)


@app.command("list")
def list_command(namespace: Ns, output: OutputOption = OutputFormat.TABLE) -> None:
    """The names of a namespace's secrets (never their values)."""
    found = call(lambda c: c.list_secrets(namespace))
    if emit(found, output):
        return
    for item in found:
        typer.echo(item["name"])


@app.command("delete")
def delete_command(namespace: Ns, name: Name) -> None:
    """Delete a secret."""
    call(lambda c: c.delete_secret(namespace, name))
    typer.echo(f"secret {name} deleted from {namespace}", err=True)
