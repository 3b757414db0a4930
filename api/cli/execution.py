"""`lanner execution ...`: read executions through the API (LANNER_URL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from api.cli.client import ClientError, LannerClient

app = typer.Typer(no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
T = TypeVar("T")

_STATE_STYLE = {"SUCCESS": "green", "FAILED": "red", "KILLED": "red", "WARNING": "yellow",
                "RUNNING": "cyan", "PAUSED": "magenta"}


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _call(action: Callable[[LannerClient], T]) -> T:
    with LannerClient() as client:
        try:
            return action(client)
        except ClientError as exc:
            errors.print(Text(f"error: {exc}", style="red"))
            raise typer.Exit(exc.exit_code) from None


def _state(current: str) -> Text:
    return Text(current, style=_STATE_STYLE.get(current, ""))


@app.command("list")
def list_command(
    namespace: Annotated[str | None, typer.Option(help="Namespace (prefix).")] = None,
    flow: Annotated[str | None, typer.Option(help="Flow id.")] = None,
    state: Annotated[list[str] | None, typer.Option(help="State; repeat for several.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 25,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """The latest executions, newest first."""
    found = _call(lambda c: c.search_executions(namespace=namespace, flow_id=flow,
                                                states=state, size=limit))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    # Ids are what people copy into the next command: never wrap or shorten them.
    table.add_column("ID", no_wrap=True, min_width=22)
    for column in ("NAMESPACE", "FLOW", "STATE", "STARTED", "DURATION"):
        table.add_column(column)
    for e in found["results"]:
        duration = e["state"].get("duration")
        table.add_row(e["id"], e["namespace"], e["flowId"], _state(e["state"]["current"]),
                      e["state"].get("startDate") or "-",
                      f"{duration:.2f}s" if duration is not None else "-")
    console.print(table)
    console.print(f"{len(found['results'])} of {found['total']}", style="dim")


@app.command("get")
def get_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="As it stood after this event (sequence number or ISO time).")] = None,
) -> None:
    """One execution with its task runs (now, or as of an event of its history)."""
    found = _call(lambda c: c.get_execution(execution_id, as_of=as_of))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(found, indent=2))
        return
    console.print(Text.assemble(("Execution ", "bold"), found["id"], "  ",
                                _state(found["state"]["current"])))
    console.print(f"flow {found['namespace']}.{found['flowId']} rev {found['flowRevision']}, "
                  f"started {found['state'].get('startDate')}")
    if found.get("asOf"):
        point = found["asOf"]
        console.print(Text(f"as of event {point['seq']} of {point['lastSeq']} ({point['time']})",
                           style="yellow"))
    if found.get("error"):
        console.print(Text(f"error: {found['error']}", style="red"))
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for column in ("TASK", "STATE", "ATTEMPTS", "OUTPUTS"):
        table.add_column(column)
    for run in found["taskRunList"]:
        outputs = json.dumps(run.get("outputs") or {})
        table.add_row(run["taskId"] + (f" [{run['value']}]" if run.get("value") else ""),
                      _state(run["state"]["current"]), str(len(run.get("attempts") or [])),
                      Text(outputs[:80]))
    console.print(table)


_LEVEL_STYLE = {"ERROR": "red", "WARN": "yellow", "DEBUG": "dim", "TRACE": "dim"}


def _print_log(line: dict[str, Any]) -> None:
    style = _LEVEL_STYLE.get(line["level"], "")
    console.print(Text.assemble((line["timestamp"], "dim"), " ", (f"{line['level']:<5}", style),
                                " ", (f"[{line.get('taskId') or '-'}]", "cyan"), " ",
                                line["message"]), soft_wrap=True)


@app.command("logs")
def logs_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    task: Annotated[str | None, typer.Option(help="Only this task id.")] = None,
    level: Annotated[str | None, typer.Option(help="Minimum level (INFO, WARN ...).")] = None,
) -> None:
    """The log lines of an execution."""
    for line in _call(lambda c: c.logs(execution_id, task_id=task, min_level=level)):
        _print_log(line)


@app.command("follow")
def follow_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
) -> None:
    """Print state changes and log lines until the execution ends; exit 1 if it failed."""
    def run(client: LannerClient) -> str:
        last_runs: dict[str, str] = {}
        final = "?"
        for event in client.follow(execution_id):
            if event.event == "execution":
                for run in event.data.get("taskRunList", []):
                    state = run["state"]["current"]
                    if last_runs.get(run["id"]) != state:
                        last_runs[run["id"]] = state
                        console.print(Text.assemble(("task ", "dim"), run["taskId"], " ",
                                                    _state(state)))
            elif event.event == "end":
                final = str(event.data.get("state"))
        for event in client.follow(execution_id, logs=True):
            if event.event == "log":
                _print_log(event.data)
        console.print(Text.assemble("execution ", execution_id, " ", _state(final)))
        return final

    final = _call(run)
    if final not in ("SUCCESS", "WARNING"):
        raise typer.Exit(1)


@app.command("events")
def events_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
    event_type: Annotated[list[str] | None, typer.Option(
        "--type", help="Only events of this type; repeat for several.")] = None,
) -> None:
    """The event history of an execution, in order: who did what, and what caused it."""
    events = _call(lambda c: c.execution_events(execution_id, event_type))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(events, indent=2))
        return
    rows = [(str(e["seq"]), e["time"], e["type"], e.get("task_run_id") or "",
             e.get("actor") or "", e.get("causation_id") or "") for e in events]
    if not console.is_terminal:
        # Piped or captured: one tab-separated line an event, whole, for grep and cut.
        for row in [("SEQ", "TIME", "TYPE", "TASK RUN", "ACTOR", "CAUSED BY"), *rows]:
            typer.echo("\t".join(row))
        return
    table = Table(show_edge=False, box=None, padding=(0, 2, 0, 0))
    for column in ("SEQ", "TIME", "TYPE", "TASK RUN", "ACTOR", "CAUSED BY"):
        # Ids are copied into the next command: fold long cells, never cut them.
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if events:
        console.print(f"correlation {events[0].get('correlation_id')}", style="dim")


def _control(execution_id: str, action: str, **body: Any) -> None:
    answer = _call(lambda client: client.control(execution_id, action, **body))
    new_id = answer.get("id") if answer.get("id") != execution_id else None
    console.print(f"{action} of execution {execution_id} accepted"
                  + (f": new execution {new_id}" if new_id else ""))


@app.command("kill")
def kill_command(execution_id: Annotated[str, typer.Argument(show_default=False)]) -> None:
    """Kill a running execution (and the subflows it started)."""
    _control(execution_id, "kill")


@app.command("resume")
def resume_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    inputs: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE")] = None,
) -> None:
    """Resume a paused execution, optionally with inputs."""
    values = dict(pair.split("=", 1) for pair in inputs or [] if "=" in pair)
    _control(execution_id, "resume", **values)


@app.command("restart")
def restart_command(execution_id: Annotated[str, typer.Argument(show_default=False)]) -> None:
    """Run a failed or killed execution again from its failed task runs."""
    _control(execution_id, "restart")


@app.command("replay")
def replay_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    task_run_id: Annotated[str | None, typer.Option("--from", help="Task run id.")] = None,
    revision: Annotated[int | None, typer.Option(help="Flow revision to replay on.")] = None,
) -> None:
    """Start a new execution repeating this one (from a task run)."""
    _control(execution_id, "replay", taskRunId=task_run_id, revision=revision)


@app.command("set-state")
def set_state_command(
    execution_id: Annotated[str, typer.Argument(show_default=False)],
    task_run_id: Annotated[str, typer.Argument(show_default=False)],
    state: Annotated[str, typer.Argument(help="SUCCESS, WARNING, FAILED or SKIPPED")],
) -> None:
    """Set a finished task run's state by hand; the execution carries on from there."""
    _control(execution_id, "state", taskRunId=task_run_id, state=state.upper())
