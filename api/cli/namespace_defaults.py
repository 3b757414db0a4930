"""`lanner namespace defaults get|set`: a namespace's pluginDefaults, through the API.

Set from a YAML (or JSON) file holding a `pluginDefaults:` list, as in a flow; the flows
of the namespace and its children that they change get a new revision, listed on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from api.cli.output import OutputFormat, OutputOption, call, emit, errors

app = typer.Typer(no_args_is_help=True)
Ns = Annotated[
    str,
    typer.Argument(
        metavar="NAMESPACE", show_default=False, help="The namespace, e.g. company.team."
    ),
]


@app.command("get")
def get_command(namespace: Ns, output: OutputOption = OutputFormat.YAML) -> None:
    """The namespace's own pluginDefaults (YAML by default), and with -o json those in
    force for its flows (its parents' included)."""
    answer = call(lambda c: c.get_namespace_defaults(namespace))
    if output is OutputFormat.TABLE:
        output = OutputFormat.YAML
    if output is OutputFormat.YAML:
        typer.echo(yaml.safe_dump({"pluginDefaults": answer["pluginDefaults"]}, sort_keys=False))
        return
    emit(answer, output)


@app.command("set")
def set_command(
    namespace: Ns,
    source: Annotated[
        Path,
        typer.Argument(
            show_default=False,
            help="A YAML or JSON file with a `pluginDefaults:` list (`-`: stdin); an empty "
            "list clears them.",
        ),
    ],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Set the namespace's pluginDefaults (refused, with the reason, if a flow would no
    longer validate)."""
    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    answer = call(lambda c: c.set_namespace_defaults(namespace, text))
    if emit(answer, output):
        return
    count = len(answer["pluginDefaults"])
    errors.print(f"{count} plugin default(s) set on {namespace}", soft_wrap=True)
    for flow in answer.get("flows", []):
        errors.print(
            f"  flow {flow['namespace']}.{flow['id']}: revision {flow['revision']} "
            f"({flow['outcome']})",
            soft_wrap=True,
        )
