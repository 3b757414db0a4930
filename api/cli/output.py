"""What every `list` and `get` command shares: `-o table|json|yaml`, API errors as one
line with the command's exit code, and tables that fit the terminal without cutting
what people copy into the next command (ids, dates)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from api.cli.client import ClientError, LannerClient

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)

STATE_STYLE = {
    "SUCCESS": "green",
    "FAILED": "red",
    "KILLED": "red",
    "WARNING": "yellow",
    "RUNNING": "cyan",
    "PAUSED": "magenta",
}
# The states a run ends well in: the exit code 0 of `execution run --wait` and `follow`.
GOOD_ENDS = ("SUCCESS", "WARNING")


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output", "-o", help="table for people; json or yaml (the API's fields) for scripts."
    ),
]
WideOption = Annotated[
    bool,
    typer.Option("--wide", "-w", help="More columns, and no cell shortened to fit the terminal."),
]


def call(action: Callable[[LannerClient], T]) -> T:
    """Run `action` against the API (LANNER_URL); an error is one red line and its exit."""
    with LannerClient() as client:
        try:
            return action(client)
        except ClientError as exc:
            errors.print(Text(f"error: {exc}", style="red"), soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """`--input NAME=VALUE` (repeatable) as a dict; one without `=` or a name is a usage
    error naming the option (exit 2)."""
    found: dict[str, str] = {}
    for pair in values or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint=option)
        found[name] = value
    return found


def emit(data: Any, output: OutputFormat) -> bool:
    """Print `data` as JSON or YAML and return True; False for a table (the caller's)."""
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(data, indent=2, default=str))
        return True
    if output is OutputFormat.YAML:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
        return True
    return False


def table(*columns: str, wide: bool = False, keep: tuple[str, ...] = ()) -> Table:
    """A borderless table. Columns in `keep` (ids, dates) are never wrapped or cut; the
    others fold onto more lines when the terminal is narrow, unless `wide`."""
    result = Table(show_edge=False, box=None, padding=(0, 2, 0, 0), expand=False)
    for name in columns:
        if name in keep:
            result.add_column(name, no_wrap=True, overflow="ignore")
        else:
            result.add_column(name, overflow="ignore" if wide else "fold", no_wrap=wide)
    return result


def print_table(rendered: Table, wide: bool) -> None:
    # --wide: as wide as the content needs, even past the terminal (for `less -S`).
    if wide:
        Console(width=max(console.width, 400), soft_wrap=True).print(rendered, crop=False)
    else:
        console.print(rendered)


def state_text(current: str) -> Text:
    return Text(current, style=STATE_STYLE.get(current, ""))


def short_time(value: str | None) -> str:
    """An ISO time to the second, in UTC (`2026-11-30 14:05:54`): whole, never cut."""
    if not value:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)}m{rest:04.1f}s"


def between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None
