"""`lanner token create|list|revoke`: API tokens, straight on Kafka (admin rights)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from api.cli import tenants
from api.cli.client import EXIT_API_ERROR, EXIT_UNREACHABLE
from api.cli.output import OutputFormat, OutputOption, emit

app = typer.Typer(no_args_is_help=True)
errors = Console(stderr=True)
T = TypeVar("T")


def _admin(action: Callable[..., T], *args: object) -> T:
    """Run a token action with settings from the environment; readable errors and exit
    codes 1 refused / 2 bad settings / 3 Kafka unreachable."""
    from api.access.admin import TokenAdminError
    from schemas.settings import LannerSettings

    try:
        settings = LannerSettings.from_env()
    except ValueError as exc:
        errors.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        return action(settings, *args)
    except TokenAdminError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_API_ERROR) from None
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:  # the broker: down, unreachable, timing out
        errors.print(
            f"[red]error:[/red] cannot reach Kafka at {settings.kafka_bootstrap} "
            f"(LANNER_KAFKA_BOOTSTRAP): {exc}"
        )
        raise typer.Exit(EXIT_UNREACHABLE) from None


@app.command("create")
def create_command(
    name: Annotated[
        str,
        typer.Option("--name", help="A unique name; the actor of its writes.", show_default=False),
    ],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="The tenant it is good for (default: the current tenant)."),
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="GET requests only.")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Good for every tenant.")] = False,
) -> None:
    """Create a token and print it once (only its salted hash is stored)."""
    from api.access.admin import create_token

    if admin and tenant:
        errors.print("[red]error:[/red] --admin is for every tenant: leave --tenant out")
        raise typer.Exit(2)
    bound = None if admin else (tenant or tenants.current())
    clear, record = _admin(create_token, name, bound, read_only)
    errors.print(
        f"token {record.name!r} for "
        f"{'every tenant' if bound is None else 'tenant ' + bound}"
        f"{' (read-only)' if read_only else ''}; shown once, keep it now:"
    )
    typer.echo(clear)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The valid tokens (names, tenants, rights; never the tokens themselves)."""
    from api.access.admin import read_tokens

    found = _admin(read_tokens).active()
    if emit(
        [
            {
                "name": t.name,
                "tenant": t.tenant,
                "readOnly": t.read_only,
                "created": t.time.isoformat(),
                "by": t.actor,
            }
            for t in found
        ],
        output,
    ):
        return
    if as_json:
        for t in found:
            typer.echo(
                json.dumps(
                    {
                        "name": t.name,
                        "tenant": t.tenant,
                        "readOnly": t.read_only,
                        "created": t.time.isoformat(),
                        "by": t.actor,
                    }
                )
            )
        return
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for column in ("NAME", "TENANT", "RIGHTS", "CREATED", "BY"):
        table.add_column(column)
    for t in found:
        table.add_row(
            t.name,
            t.tenant or "* (admin)",
            "read" if t.read_only else "read, write",
            t.time.isoformat(timespec="seconds"),
            t.actor,
        )
    Console().print(table)


@app.command("revoke")
def revoke_command(
    name: Annotated[str, typer.Argument(show_default=False, help="The token's name.")],
) -> None:
    """Revoke a token: the API refuses it within a second."""
    from api.access.admin import revoke_token

    _admin(revoke_token, name)
    errors.print(f"token {name!r} revoked")
