"""`lanner flow ...`: commands on flow files."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schemas.settings import Limits

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
    from api.cli.validation_output import print_results, results_as_json, validate_files
    from streams.plugins.registry import PluginRegistry

    results = validate_files(paths, PluginRegistry.discover(), _limits())
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(results_as_json(results), indent=2))
    else:
        print_results(results, Console())
    if not all(item.valid for item in results):
        raise typer.Exit(code=1)


def _limits() -> Limits:
    """The LANNER_LIMITS_* the server would apply, so a file valid here deploys there."""
    try:
        return Limits.from_env(os.environ)
    except ValueError as exc:
        raise typer.BadParameter(f"invalid LANNER_LIMITS_* setting: {exc}") from None


@app.command("test")
def test_command(
    file: Annotated[Path, typer.Argument(help="The flow file to run once.", show_default=False)],
    flows: Annotated[
        Path | None, typer.Option("--flows", help="Companion flows (subflows) to deploy first.")
    ] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="An input, as NAME=VALUE.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the end.")] = 60.0,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="How to print the execution.")
    ] = OutputFormat.TABLE,
) -> None:
    """Run a flow once in a temporary environment and wait for its end.

    Exit 0 for SUCCESS or WARNING, 1 otherwise, 2 for an invalid flow or inputs.
    """
    from api.cli.flow_test import run_flow_test
    from api.cli.output import pairs
    from api.cli.validation_output import print_results, validate_files
    from streams.plugins.registry import PluginRegistry

    registry = PluginRegistry.discover()
    console = Console(stderr=True)
    companions = [file] if flows is None else [flows, file]
    results = validate_files(companions, registry, _limits())
    if not all(item.valid for item in results):
        print_results([r for r in results if not r.valid], console)
        raise typer.Exit(code=2)
    code = run_flow_test(
        file,
        flows,
        pairs(inputs, "--input"),
        timeout,
        as_json=output is OutputFormat.JSON,
        bootstrap=os.environ.get("LANNER_KAFKA_BOOTSTRAP") or None,
        console=console,
    )
    raise typer.Exit(code=code)


@app.command("deploy")
def deploy_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Flow files or directories.", show_default=False)
    ],
) -> None:
    """Deploy flows to a running Lanner (LANNER_URL, default http://127.0.0.1:8080)."""
    from api.cli.deploy import deploy_files

    raise typer.Exit(code=deploy_files(paths, Console()))


@app.command("history")
def history_command(
    namespace: Annotated[
        str, typer.Argument(show_default=False, help="The namespace, e.g. company.team.")
    ],
    flow_id: Annotated[str, typer.Argument(show_default=False, help="The flow's id.")],
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="How to print the history.")
    ] = OutputFormat.TABLE,
) -> None:
    """Every revision of a flow: when, by whom, and the diff from the one before."""
    from rich.syntax import Syntax
    from rich.text import Text

    from api.cli.client import ClientError, LannerClient

    with LannerClient() as client:
        try:
            revisions = client.flow_revisions(namespace, flow_id)
        except ClientError as exc:
            Console(stderr=True).print(Text(f"error: {exc}", style="red"))
            raise typer.Exit(exc.exit_code) from None
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(revisions, indent=2))
        return
    console = Console()
    for rev in revisions:
        console.print(
            Text.assemble(
                ("revision ", "bold"),
                str(rev.get("revision")),
                "  ",
                (str(rev.get("updated")), "dim"),
                "  by ",
                (str(rev.get("actor")), "cyan"),
            )
        )
        if rev.get("diff"):
            console.print(Syntax(rev["diff"], "diff", background_color="default"))


# --- flows of a running server, through the API (LANNER_URL, LANNER_TOKEN) ---------------


@app.command("export")
def export_command(
    namespace: Annotated[
        str, typer.Argument(show_default=False, help="The namespace, e.g. company.team.")
    ],
    directory: Annotated[
        Path, typer.Argument(show_default=False, help="A folder of flow files (<id>.yml).")
    ],
) -> None:
    """Write the latest revision of every flow of NAMESPACE to DIRECTORY/<id>.yml."""
    from api.cli.flow_sync import export_flows
    from api.cli.output import call

    flows = call(lambda c: c.search_flows(namespace))
    written = export_flows(flows, namespace, directory)
    Console(stderr=True).print(f"{len(written)} flow(s) of {namespace} written to {directory}")


@app.command("delete")
def delete_command(
    namespace: Annotated[
        str, typer.Argument(show_default=False, help="The namespace, e.g. company.team.")
    ],
    flow_id: Annotated[str, typer.Argument(show_default=False, help="The flow's id.")],
) -> None:
    """Delete a flow (its history stays in the log)."""
    from api.cli.output import call

    call(lambda c: c.delete_flow(namespace, flow_id))
    Console(stderr=True).print(f"flow {namespace}.{flow_id} deleted")


@app.command("sync")
def sync_command(
    namespace: Annotated[
        str, typer.Argument(show_default=False, help="The namespace, e.g. company.team.")
    ],
    directory: Annotated[
        Path, typer.Argument(show_default=False, help="A folder of flow files (<id>.yml).")
    ],
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete the flows of NAMESPACE that have no file.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
) -> None:
    """Make NAMESPACE hold exactly the flows of DIRECTORY: plan first, then apply."""
    from api.cli.flow_sync import apply_plan, local_flows, plan_sync, print_plan
    from api.cli.output import call

    console = Console()
    local, problems = local_flows(directory, namespace)
    if problems:
        for problem in problems:
            Console(stderr=True).print(f"[red]error:[/red] {problem}", soft_wrap=True)
        raise typer.Exit(2)
    remote = call(lambda c: c.search_flows(namespace))
    plan = plan_sync(local, remote, namespace, delete=delete)
    print_plan(plan, console)
    if dry_run:
        return
    failed = call(lambda c: apply_plan(c, namespace, plan, console))
    raise typer.Exit(1 if failed else 0)
