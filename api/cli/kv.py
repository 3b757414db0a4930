"""`lanner kv list|get|set|delete`: a namespace's key-value store, through the API.

The same store as the `kv.Set`/`kv.Get` tasks and the `kv()` function: a value set here
is what a flow reads, and the other way round.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from api.cli.output import (
    OutputFormat,
    OutputOption,
    call,
    emit,
    errors,
    print_table,
    short_time,
    table,
)

app = typer.Typer(no_args_is_help=True)
Ns = Annotated[
    str,
    typer.Argument(
        metavar="NAMESPACE", show_default=False, help="The namespace, e.g. company.team."
    ),
]
Key = Annotated[str, typer.Argument(metavar="KEY", show_default=False, help="The key.")]


@app.command("list")
def list_command(namespace: Ns, output: OutputOption = OutputFormat.TABLE) -> None:
    """The keys of a namespace (not of its parents), with type, update and expiry."""
    entries = call(lambda c: c.list_kv(namespace))
    if emit(entries, output):
        return
    rows = table(
        "KEY",
        "TYPE",
        "UPDATED (UTC)",
        "EXPIRES (UTC)",
        keep=("KEY", "UPDATED (UTC)", "EXPIRES (UTC)"),
    )
    for entry in entries:
        rows.add_row(
            entry["key"],
            entry["type"],
            short_time(entry.get("updateDate")),
            short_time(entry.get("expirationDate")),
        )
    print_table(rows, wide=False)


@app.command("get")
def get_command(namespace: Ns, key: Key, output: OutputOption = OutputFormat.TABLE) -> None:
    """A key's value: as JSON text by default (a string is printed as it is), or the
    whole entry with -o json|yaml. Exit 1 if the key is not set."""
    entry = call(lambda c: c.get_kv(namespace, key))
    if emit(entry, output):
        return
    value = entry.get("value")
    typer.echo(value if isinstance(value, str) else json.dumps(value))


def _parse(raw: str, as_string: bool) -> Any:
    if as_string:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@app.command("set")
def set_command(
    namespace: Ns,
    key: Key,
    value: Annotated[
        str,
        typer.Argument(
            show_default=False,
            help='The value: JSON (42, true, {"a": 1}, [1, 2]) is stored '
            "with its type, anything else as a string. `-` reads it from stdin.",
        ),
    ],
    as_string: Annotated[
        bool,
        typer.Option("--string", help="Store the value as a string even when it reads as JSON."),
    ] = False,
    ttl: Annotated[
        str | None, typer.Option(help="Expire after this ISO-8601 duration (PT1H, P7D).")
    ] = None,
) -> None:
    """Set a key."""
    import sys

    raw = sys.stdin.read().removesuffix("\n") if value == "-" else value
    parsed = _parse(raw, as_string)
    call(lambda c: c.set_kv(namespace, key, parsed, ttl))
    errors.print(f"key {key} set in {namespace}", soft_wrap=True)


@app.command("delete")
def delete_command(namespace: Ns, key: Key) -> None:
    """Delete a key (exit 1 if it is not set)."""
    call(lambda c: c.delete_kv(namespace, key))
    errors.print(f"key {key} deleted from {namespace}", soft_wrap=True)
