"""`lanner execution ...`: read executions through the API (LANNER_URL)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from api.cli.execution_follow import follow_until_end, print_log
from api.cli.execution_run import run_command
from api.cli.execution_view import show_execution
from api.cli.output import (
    GOOD_ENDS,
    OutputFormat,
    OutputOption,
    WideOption,
    call,
    console,
    emit,
    pairs,
    print_table,
    seconds,
    short_time,
    state_text,
    table,
)

app = typer.Typer(no_args_is_help=True)
app.command("run")(run_command)
ExecutionId = Annotated[
    str, typer.Argument(metavar="EXECUTION_ID", show_default=False, help="The execution's id.")
]


@app.command("list")
def list_command(
    namespace: Annotated[
        str | None, typer.Option(help="Only this namespace and its children.")
    ] = None,
    flow: Annotated[str | None, typer.Option(help="Only this flow id.")] = None,
    state: Annotated[
        list[str] | None, typer.Option(help="Only executions in this state; repeat for several.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, at most.")] = 25,
    output: OutputOption = OutputFormat.TABLE,
    wide: WideOption = False,
) -> None:
    """The latest executions, newest first (one you just ran included)."""
    found = call(
        lambda c: c.search_executions(namespace=namespace, flow_id=flow, states=state, size=limit)
    )
    if emit(found, output):
        return
    columns = ["ID", "NAMESPACE", "FLOW", "STATE", "STARTED (UTC)", "DURATION"]
    if wide:
        columns += ["ENDED (UTC)", "REVISION", "LABELS"]
    # Ids and dates are what people copy into the next command: never wrapped or cut.
    rows = table(*columns, wide=wide, keep=("ID", "STARTED (UTC)", "ENDED (UTC)", "DURATION"))
    for e in found["results"]:
        cells: list[str | Text] = [
            e["id"],
            e["namespace"],
            e["flowId"],
            state_text(e["state"]["current"]),
            short_time(e["state"].get("startDate")),
            seconds(e["state"].get("duration")),
        ]
        if wide:
            labels = ", ".join(f"{x['key']}:{x['value']}" for x in e.get("labels") or [])
            cells += [short_time(e["state"].get("endDate")), str(e.get("flowRevision", "")), labels]
        rows.add_row(*cells)
    print_table(rows, wide)
    console.print(f"{len(found['results'])} of {found['total']}", style="dim")


@app.command("get")
def get_command(
    execution_id: ExecutionId,
    output: OutputOption = OutputFormat.TABLE,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="As it stood after this event (sequence number or ISO time)."),
    ] = None,
    wide: WideOption = False,
) -> None:
    """One execution: state, inputs, outputs, and every task run with its attempts and
    durations (now, or as of an event of its history)."""
    found = call(lambda c: c.get_execution(execution_id, as_of=as_of))
    if emit(found, output):
        return
    show_execution(found, wide)


@app.command("logs")
def logs_command(
    execution_id: ExecutionId,
    task: Annotated[str | None, typer.Option(help="Only this task id.")] = None,
    level: Annotated[
        str | None, typer.Option(help="Minimum level (TRACE, DEBUG, INFO, WARN, ERROR).")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The log lines of an execution so far."""
    lines = call(lambda c: c.logs(execution_id, task_id=task, min_level=level))
    if emit(lines, output):
        return
    for line in lines:
        print_log(line)


@app.command("follow")
def follow_command(execution_id: ExecutionId) -> None:
    """Print task state changes and log lines as they come (those written before it
    started first) until the execution ends; exit 0 for SUCCESS or WARNING, else 1."""
    final = call(lambda c: follow_until_end(c, execution_id))
    if final not in GOOD_ENDS:
        raise typer.Exit(1)


@app.command("events")
def events_command(
    execution_id: ExecutionId,
    output: OutputOption = OutputFormat.TABLE,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only events of this type; repeat for several."),
    ] = None,
) -> None:
    """The event history of an execution, in order: who did what, and what caused it."""
    events = call(lambda c: c.execution_events(execution_id, event_type))
    if emit(events, output):
        return
    rows = [
        (
            str(e["seq"]),
            e["time"],
            e["type"],
            e.get("task_run_id") or "",
            e.get("actor") or "",
            e.get("causation_id") or "",
        )
        for e in events
    ]
    if not console.is_terminal:
        # Piped or captured: one tab-separated line an event, whole, for grep and cut.
        for row in [("SEQ", "TIME", "TYPE", "TASK RUN", "ACTOR", "CAUSED BY"), *rows]:
            typer.echo("\t".join(row))
        return
    # Ids are copied into the next command: fold long cells, never cut them.
    rendered = table("SEQ", "TIME", "TYPE", "TASK RUN", "ACTOR", "CAUSED BY")
    for row in rows:
        rendered.add_row(*row)
    console.print(rendered)
    if events:
        console.print(f"correlation {events[0].get('correlation_id')}", style="dim")


def _control(execution_id: str, action: str, **body: Any) -> None:
    answer = call(lambda client: client.control(execution_id, action, **body))
    new_id = answer.get("id") if answer.get("id") != execution_id else None
    console.print(
        f"{action} of execution {execution_id} accepted"
        + (f": new execution {new_id}" if new_id else "")
    )


@app.command("kill")
def kill_command(execution_id: ExecutionId) -> None:
    """Kill a running execution (and the subflows it started)."""
    _control(execution_id, "kill")


@app.command("pause")
def pause_command(execution_id: ExecutionId) -> None:
    """Pause a running execution: what runs finishes, nothing new starts until resumed."""
    _control(execution_id, "pause")


@app.command("resume")
def resume_command(
    execution_id: ExecutionId,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="An input of the resume, NAME=VALUE; repeat for several."
        ),
    ] = None,
) -> None:
    """Resume a paused execution, optionally with inputs."""
    _control(execution_id, "resume", **pairs(inputs, "--input"))


@app.command("restart")
def restart_command(execution_id: ExecutionId) -> None:
    """Run a failed or killed execution again from its failed task runs."""
    _control(execution_id, "restart")


@app.command("replay")
def replay_command(
    execution_id: ExecutionId,
    task_run_id: Annotated[
        str | None,
        typer.Option("--from", help="Replay from this task run id (default: from the start)."),
    ] = None,
    revision: Annotated[int | None, typer.Option(help="Flow revision to replay on.")] = None,
) -> None:
    """Start a new execution repeating this one (from a task run)."""
    _control(execution_id, "replay", taskRunId=task_run_id, revision=revision)


@app.command("set-state")
def set_state_command(
    execution_id: ExecutionId,
    task_run_id: Annotated[
        str,
        typer.Argument(
            show_default=False, help="The task run's id (`execution get --wide` shows them)."
        ),
    ],
    state: Annotated[str, typer.Argument(help="SUCCESS, WARNING, FAILED or SKIPPED")],
) -> None:
    """Set a finished task run's state by hand; the execution carries on from there."""
    _control(execution_id, "state", taskRunId=task_run_id, state=state.upper())
