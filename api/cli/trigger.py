"""`lanner trigger ...`: see and steer triggers through the API (LANNER_URL)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from api.cli.client import LannerClient
from api.cli.output import (
    OutputFormat,
    OutputOption,
    call,
    console,
    emit,
    pairs,
    print_table,
    short_time,
    table,
)

app = typer.Typer(no_args_is_help=True)
backfill_app = typer.Typer(no_args_is_help=True)
app.add_typer(
    backfill_app,
    name="backfill",
    help="Replay a schedule's past slots: start, pause, unpause, delete.",
)

Namespace = Annotated[str, typer.Argument(show_default=False, help="The flow's namespace.")]
FlowId = Annotated[str, typer.Argument(show_default=False, help="The flow's id.")]
TriggerId = Annotated[str, typer.Argument(show_default=False, help="The trigger's id in the flow.")]


def _backfill_text(backfill: dict[str, Any] | None) -> Text:
    if not backfill:
        return Text("-")
    state = "paused" if backfill.get("paused") else "running"
    return Text(
        f"{state} {backfill.get('currentDate')} -> {backfill.get('end')}",
        style="yellow" if backfill.get("paused") else "cyan",
    )


def _print_context(context: dict[str, Any], output: OutputFormat) -> None:
    if emit(context, output):
        return
    name = f"{context['namespace']}.{context['flowId']} {context['triggerId']}"
    status = (
        Text("disabled", style="red") if context.get("disabled") else Text("enabled", style="green")
    )
    console.print(Text.assemble((name, "bold"), "  ", status))
    console.print(
        f"last fire {context.get('lastFireDate') or '-'}, next "
        f"{context.get('nextExecutionDate') or '-'}"
    )
    if context.get("backfill"):
        console.print(Text.assemble("backfill ", _backfill_text(context["backfill"])))


@app.command("list")
def list_command(
    namespace: Annotated[str | None, typer.Option(help="Namespace (prefix).")] = None,
    flow: Annotated[str | None, typer.Option(help="Flow id.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Words to find.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many triggers.")] = 100,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Every trigger of every deployed flow with its state: last and next fire, disabled,
    backfill, last error."""
    found = call(
        lambda c: c.search_triggers(namespace=namespace, flow_id=flow, q=query, size=limit)
    )
    if emit(found, output):
        return
    rows = table(
        "NAMESPACE",
        "FLOW",
        "TRIGGER",
        "TYPE",
        "STATUS",
        "LAST FIRE (UTC)",
        "NEXT FIRE (UTC)",
        "BACKFILL",
        "LAST ERROR",
        keep=("FLOW", "TRIGGER", "LAST FIRE (UTC)", "NEXT FIRE (UTC)"),
    )
    for row in found["results"]:
        spec, context = row["abstractTrigger"], row["triggerContext"]
        status = (
            Text("disabled", style="red")
            if context.get("disabled")
            else Text("enabled", style="green")
        )
        error = context.get("lastError")
        rows.add_row(
            context["namespace"],
            context["flowId"],
            context["triggerId"],
            str(spec.get("type", "")).rsplit(".", 1)[-1],
            status,
            short_time(context.get("lastFireDate")),
            short_time(context.get("nextExecutionDate")),
            _backfill_text(context.get("backfill")),
            Text(str(error)[:60], style="red") if error else "-",
        )
    print_table(rows, wide=False)
    console.print(f"{len(found['results'])} of {found['total']}", style="dim")


@app.command("enable")
def enable_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Fire again (missed slots are recovered as its recoverMissedSchedules says)."""
    _print_context(
        call(lambda c: c.update_trigger(namespace, flow, trigger, disabled=False)), output
    )


@app.command("disable")
def disable_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Stop firing (within a second) until enabled again."""
    _print_context(
        call(lambda c: c.update_trigger(namespace, flow, trigger, disabled=True)), output
    )


@app.command("unlock")
def unlock_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Release a trigger held by an execution that will not end."""
    _print_context(call(lambda c: c.unlock_trigger(namespace, flow, trigger)), output)


@backfill_app.command("start")
def backfill_start_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    start: Annotated[
        str, typer.Option(help="First date (ISO 8601), included.", show_default=False)
    ],
    end: Annotated[
        str | None, typer.Option(help="Last date (ISO 8601), included; default now.")
    ] = None,
    inputs: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE")] = None,
    labels: Annotated[list[str] | None, typer.Option("--label", "-l", help="KEY=VALUE")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Run every slot of a schedule from START to END, in order, each once."""
    body: dict[str, Any] = {
        "start": start,
        "end": end,
        "inputs": pairs(inputs, "--input"),
        "labels": [{"key": k, "value": v} for k, v in pairs(labels, "--label").items()],
    }

    def start_backfill(client: LannerClient) -> dict[str, Any]:
        return client.update_trigger(namespace, flow, trigger, backfill=body)

    _print_context(call(start_backfill), output)


def _backfill(action: str, namespace: str, flow: str, trigger: str, output: OutputFormat) -> None:
    _print_context(call(lambda c: c.trigger_backfill(namespace, flow, trigger, action)), output)


@backfill_app.command("pause")
def backfill_pause_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Pause the running backfill (it keeps its place)."""
    _backfill("pause", namespace, flow, trigger, output)


@backfill_app.command("unpause")
def backfill_unpause_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Go on with a paused backfill from where it stopped."""
    _backfill("unpause", namespace, flow, trigger, output)


@backfill_app.command("delete")
def backfill_delete_command(
    namespace: Namespace,
    flow: FlowId,
    trigger: TriggerId,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Stop the backfill for good (the slots it fired stay fired)."""
    _backfill("delete", namespace, flow, trigger, output)
