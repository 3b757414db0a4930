"""The tenant of a command line invocation: `lanner --tenant T ...` or LANNER_TENANT_ID."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from schemas.settings import LannerSettings

ENV = "LANNER_TENANT_ID"
DEFAULT = "main"


def select(tenant: str | None) -> str:
    """Check the tenant id (exit 2 with the rule it breaks) and make it the process's:
    commands build their settings from the environment, and the server roles a command
    starts inherit it, so setting it once here reaches all of them."""
    chosen = tenant or os.environ.get(ENV) or DEFAULT
    try:
        LannerSettings(tenant_id=chosen)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        message = errors()[0]["msg"] if callable(errors) else str(exc)
        Console(stderr=True).print(f"[red]invalid tenant id:[/red] {message}")
        raise typer.Exit(2) from None
    os.environ[ENV] = chosen
    return chosen


def current() -> str:
    return os.environ.get(ENV) or DEFAULT
