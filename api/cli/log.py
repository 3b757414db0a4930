"""`lanner log export|import`: a namespace's log as JSON lines, and back into a cluster.

Talks to Kafka directly (LANNER_KAFKA_BOOTSTRAP, LANNER_TOPIC_PREFIX, LANNER_TENANT_ID).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from api.cli.history import parse_since
from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics, group_is_consuming
from streams.log.topics import Topics

app = typer.Typer(no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        console=errors,
        transient=True,
    )


@app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="The JSON-lines file to write.", show_default=False)],
    namespace: Annotated[str, typer.Option(help="Namespace (and its children).")],
    since: Annotated[
        str | None, typer.Option(help="Only executions created at or after this ISO-8601 time.")
    ] = None,
) -> None:
    """Write a namespace's flow and execution events, commands, results and logs.

    One JSON object a line (topic, key, value, original partition and offset), in log
    order.
    """
    from streams.log.transfer import export_namespace

    settings = LannerSettings.from_env()
    with _progress() as progress, file.open("w", encoding="utf-8") as out:
        task = progress.add_task("exporting")
        stats = export_namespace(
            settings.kafka_bootstrap,
            Topics(settings.full_topic_prefix),
            namespace,
            out,
            since=parse_since(since),
            tick=lambda _t: progress.advance(task),
        )
    table = Table(title=f"exported {namespace} to {file}", show_header=False)
    table.add_row("executions", str(stats.executions))
    for topic, count in stats.lines.items():
        table.add_row(topic, str(count))
    if stats.unreadable:
        table.add_row("unreadable records skipped", str(stats.unreadable))
    console.print(table)


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="A file written by `lanner log export`.", show_default=False)
    ],
    allow_running_executor: Annotated[
        bool, typer.Option(help="Import even though an executor consumes the target's commands.")
    ] = False,
) -> None:
    """Append an export to this cluster's topics, skipping what is already there.

    Stops at the first malformed line (exit 1, with its number); run again to resume.
    """
    # Imported here: the producer and the transfer cost time that `lanner --help` and
    # every other command must not pay.
    from streams.log.producer import LogProducer
    from streams.log.transfer import MalformedLine, import_lines, present_ids

    settings = LannerSettings.from_env()
    topics = Topics(settings.full_topic_prefix)
    ensure_lanner_topics(settings)
    group = f"{settings.full_topic_prefix}executor"
    if not allow_running_executor and group_is_consuming(
        settings.kafka_bootstrap, group, topics.commands
    ):
        # It would take the imported commands as new work and run their tasks again.
        errors.print(
            Text(
                f"error: an executor ({group}) is consuming {topics.commands}; "
                "stop it, or pass --allow-running-executor",
                style="red",
            )
        )
        raise typer.Exit(2)
    with (
        _progress() as progress,
        LogProducer(settings.kafka_bootstrap, client_id="lanner-import") as producer,
    ):
        scan = progress.add_task("reading what the target holds")
        present = present_ids(
            settings.kafka_bootstrap, topics, tick=lambda _t: progress.advance(scan)
        )
        progress.update(scan, visible=False)
        task = progress.add_task("importing")
        try:
            with file.open(encoding="utf-8") as source:
                stats = import_lines(
                    producer, topics, source, present, tick=lambda _t: progress.advance(task)
                )
        except MalformedLine as exc:
            errors.print(Text(f"error: {file}:{exc}", style="red"))
            raise typer.Exit(1) from None
    console.print(
        f"{stats.lines} lines: {stats.written} records written, {stats.skipped} already present"
    )
