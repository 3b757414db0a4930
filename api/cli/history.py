"""`lanner history verify`: prove that the current code reproduces recorded histories.

Reads Kafka directly (LANNER_KAFKA_BOOTSTRAP, LANNER_TOPIC_PREFIX, LANNER_TENANT_ID):
the log is the record, the views are not consulted. With `--file`, reads a recording
written by `lanner log export` instead (tests/data/histories/ holds such recordings).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from schemas.settings import LannerSettings
from streams.log.topics import Topics

if TYPE_CHECKING:  # the verification machinery is imported by the command that uses it
    from schemas.events import ExecutionEvent
    from streams.histories.recorded import Divergence
    from streams.histories.verify import ExecutionVerdict, VerifyReport

app = typer.Typer(no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def parse_since(raw: str | None) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise typer.BadParameter(
            f"{raw!r} is not an ISO-8601 date or time", param_hint="--since"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _event_text(event: ExecutionEvent | None) -> Text:
    if event is None:
        return Text("(none)", style="dim")
    body = event.model_dump(mode="json", exclude={"execution_id", "seq", "version"})
    return Text(json.dumps(body, sort_keys=True))


def print_report(report: VerifyReport, malformed: int, out: Console) -> None:
    summary = Table(title="history verify", show_header=False)
    summary.add_row("executions checked", str(report.executions))
    summary.add_row("messages re-decided", str(report.messages))
    summary.add_row("events compared", str(report.events))
    summary.add_row("malformed records skipped", str(malformed))
    summary.add_row(
        "divergences",
        Text(str(len(report.divergences)), style="red" if report.divergences else "green"),
    )
    out.print(summary)
    if report.divergences:
        print_divergences(report.divergences, out)


def print_divergences(found: list[Divergence], out: Console) -> None:
    table = Table(title="divergences", show_lines=True)
    table.add_column("EXECUTION", no_wrap=True)
    table.add_column("SEQ", justify="right")
    table.add_column("WHERE")
    table.add_column("WHAT")
    table.add_column("DECISION")
    table.add_column("EXPECTED (recorded)", overflow="fold")
    table.add_column("ACTUAL (re-decided)", overflow="fold")
    for d in found:
        table.add_row(
            d.execution_id,
            "-" if d.seq is None else str(d.seq),
            str(d.position or "-"),
            f"{d.kind}: {d.message}",
            d.decision or "-",
            _event_text(d.expected),
            _event_text(d.actual),
        )
    out.print(table)


@app.command("verify")
def verify_command(
    execution: Annotated[
        list[str] | None, typer.Option("--execution", help="An execution id; repeat for several.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace (and its children).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only executions created at or after this ISO-8601 time.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Verify a recording written by `lanner log export` instead of the live log.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Re-run the executor's decisions over recorded messages; exit 0 only with no divergence."""
    from streams.histories.source import Selection, verify_log
    from streams.plugins.registry import PluginRegistry

    settings = LannerSettings.from_env()
    selection = Selection(frozenset(execution or ()), namespace, parse_since(since))
    if file is not None:
        from streams.histories.export_file import verify_export

        with file.open(encoding="utf-8") as lines:
            report, stats = verify_export(
                lines, PluginRegistry.discover(), selection=selection, limits=settings.limits
            )
        print_report(report, stats.malformed, console)
        if not report.ok:
            raise typer.Exit(1)
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=errors,
        transient=True,
    ) as progress:
        reading = progress.add_task("reading the log", total=None)
        checking = progress.add_task("verifying executions", total=None, visible=False)

        def read(count: int) -> None:
            progress.update(reading, visible=False)
            progress.update(checking, total=count, visible=True)

        def verified(_verdict: ExecutionVerdict) -> None:
            progress.advance(checking)

        report, stats = verify_log(
            settings.kafka_bootstrap,
            Topics(settings.full_topic_prefix),
            selection,
            PluginRegistry.discover(),
            tick=lambda _topic: progress.advance(reading),
            on_read=read,
            on_verified=verified,
            limits=settings.limits,
        )
    print_report(report, stats.malformed, console)
    if not report.ok:
        raise typer.Exit(1)
