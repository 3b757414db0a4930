"""`lanner projections ...`: maintain the Elasticsearch views (talks to Kafka and ES)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from projections import mappings
from schemas.settings import LannerSettings

if TYPE_CHECKING:  # the command imports Kafka and ES clients only when it runs
    from projections.rebuild import RebuildProgress, RebuildReport

app = typer.Typer(no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _settings() -> LannerSettings:
    try:
        return LannerSettings.from_env()
    except ValueError as exc:
        errors.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def summary(report: RebuildReport) -> Table:
    table = Table(
        title=f"Rebuilt from {report.records:,} records in {report.seconds:.1f} s"
        + (" (old indices kept)" if report.kept_old else "")
    )
    table.add_column("view")
    table.add_column("index")
    table.add_column("documents", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("replaced")
    for view in report.views:
        table.add_row(
            view.view,
            view.index,
            f"{view.documents:,}",
            f"{view.seconds:.2f}",
            view.previous or "-",
        )
    return table


@app.command()
def rebuild(
    index: Annotated[
        list[str] | None,
        typer.Option(
            "--index",
            "-i",
            metavar="VIEW",
            help=f"A view to rebuild (repeatable): {', '.join(mappings.MAPPINGS)}. "
            "Default: all of them.",
        ),
    ] = None,
    keep_old: Annotated[
        bool, typer.Option("--keep-old", help="Keep the replaced indices instead of deleting them.")
    ] = False,
) -> None:
    """Copy the log into fresh indices, then swap the views' aliases to them.

    The API keeps answering from the current indices until the swap.
    """
    from api.logs import configure_from_env
    from projections.rebuild import rebuild as run_rebuild
    from projections.rebuild import resolve_views

    try:
        # Warnings only by default: info lines would tear the progress bar.
        configure_from_env(os.environ, default_level="WARNING")
    except ValueError as exc:
        errors.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    settings = _settings()
    try:
        views = resolve_views(index)
    except ValueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task: TaskID = bar.add_task("starting", total=None)

        def show(step: RebuildProgress) -> None:
            bar.update(task, description=step.phase, completed=step.done, total=max(step.total, 1))

        try:
            report = run_rebuild(settings, views, show, keep_old=keep_old)
        except KeyboardInterrupt:
            errors.print("[yellow]stopped; the views are unchanged[/yellow]")
            raise typer.Exit(130) from None
        except Exception as exc:  # the command's edge: say what failed, exit non-zero
            errors.print(f"[red]rebuild failed:[/red] {exc}")
            raise typer.Exit(1) from None
    console.print(summary(report))
