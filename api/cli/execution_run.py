"""`lanner execution run NS FLOW`: start an execution through the API, and optionally wait
for its end or follow it live; the exit code is then its final state's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from api.cli.client import ClientError, LannerClient
from api.cli.execution_follow import follow_until_end
from api.cli.execution_view import show_execution
from api.cli.output import GOOD_ENDS, OutputFormat, OutputOption, emit, errors, state_text

# Exit codes, as `lanner flow test`: 0 SUCCESS or WARNING, 1 any other end (or an API
# error), 2 refused (unknown flow input, bad value), 3 no API.
EXIT_REFUSED = 2


def _pairs(values: list[str] | None, sep: str, option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in values or []:
        key, ok, value = raw.partition(sep)
        if not ok or not key:
            errors.print(f"error: {option} {raw!r} is not KEY{sep}VALUE", soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED)
        found[key] = value
    return found


def _files(values: list[str] | None) -> dict[str, Path]:
    files = {key: Path(path) for key, path in _pairs(values, "=", "--file").items()}
    for key, path in files.items():
        if not path.is_file():
            errors.print(f"error: --file {key}={path}: no such file", soft_wrap=True)
            raise typer.Exit(EXIT_REFUSED)
    return files


def _create(
    client: LannerClient,
    namespace: str,
    flow_id: str,
    inputs: dict[str, str],
    files: dict[str, Path],
    labels: dict[str, str],
) -> dict[str, Any]:
    if files:
        return client.create_execution_with_files(namespace, flow_id, inputs, files, labels)
    return client.create_execution(namespace, flow_id, inputs, labels)


def _wait_end(client: LannerClient, execution_id: str) -> dict[str, Any]:
    for event in client.follow(execution_id):
        if event.event == "end":
            break
    return client.get_execution(execution_id)


def run_command(
    namespace: Annotated[str, typer.Argument(show_default=False, help="The flow's namespace.")],
    flow_id: Annotated[
        str, typer.Argument(metavar="FLOW", show_default=False, help="The flow's id.")
    ],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="An input, KEY=VALUE (as text; the flow's input type converts "
            "it); repeat for several.",
        ),
    ] = None,
    files: Annotated[
        list[str] | None,
        typer.Option(
            "--file",
            "-f",
            help="A FILE input, KEY=PATH, uploaded with the execution; repeat for several.",
        ),
    ] = None,
    labels: Annotated[
        list[str] | None,
        typer.Option(
            "--label", "-l", help="A label of this execution, KEY:VALUE; repeat for several."
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the end, print the execution, exit 0 for SUCCESS or "
            "WARNING and 1 otherwise.",
        ),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", help="Like --wait, printing task states and log lines as they come."
        ),
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Start an execution of a deployed flow. Without --wait or --follow, print its id on
    stdout (for scripts: `ID=$(lanner execution run ...)`) and return at once."""
    values = _pairs(inputs, "=", "--input")
    uploads = _files(files)
    tags = _pairs(labels, ":", "--label")
    with LannerClient() as client:
        try:
            created = _create(client, namespace, flow_id, values, uploads, tags)
        except ClientError as exc:
            # Not there, or its inputs refused: as `flow test`, exit 2 (3: no API at all).
            errors.print(Text(f"error: {exc}", style="red"), soft_wrap=True)
            refused = exc.status in (404, 422)
            raise typer.Exit(EXIT_REFUSED if refused else exc.exit_code) from None
        execution_id = str(created["id"])
        errors.print(f"execution {execution_id} of {namespace}.{flow_id} created", soft_wrap=True)
        try:
            if follow:
                final = follow_until_end(client, execution_id)
                raise typer.Exit(0 if final in GOOD_ENDS else 1)
            if not wait:
                if not emit(created, output):
                    typer.echo(execution_id)
                return
            ended = _wait_end(client, execution_id)
        except ClientError as exc:
            errors.print(Text(f"error: {exc}", style="red"), soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
    final = ended["state"]["current"]
    if not emit(ended, output):
        show_execution(ended, wide=False)
    if output is OutputFormat.TABLE:
        errors.print(Text.assemble("execution ", execution_id, " ", state_text(final)))
    raise typer.Exit(0 if final in GOOD_ENDS else 1)
