"""The `lanner` command line: one typer app, one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import (
    execution,
    flow,
    history,
    kv,
    log,
    namespace,
    plugins,
    projections,
    schema,
    secret,
    server,
    tenants,
    token,
    trigger,
)

app = typer.Typer(
    no_args_is_help=True, help="Lanner: event-driven orchestration on a streaming log."
)


@app.callback()
def _root(
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            help="Tenant id for this command (default: LANNER_TENANT_ID, or main).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every command, server role and API call runs as one tenant."""
    tenants.select(tenant)


app.add_typer(flow.app, name="flow", help="Validate, deploy and test flows.")
app.add_typer(
    execution.app,
    name="execution",
    help="Run, follow, read and control executions (through the API).",
)
app.add_typer(schema.app, name="schema", help="JSON Schemas of the flow language.")
app.add_typer(server.app, name="server", help="Run Lanner's server processes.")
app.add_typer(
    history.app, name="history", help="Verify recorded histories against the current code."
)
# The group's earlier name, kept working for scripts; `execution replay` is the only replay.
app.add_typer(history.app, name="replay", hidden=True)
app.add_typer(plugins.app, name="plugins", help="Task types and their properties.")
app.add_typer(namespace.app, name="namespace", help="Namespaces (through the API).")
app.add_typer(secret.app, name="secret", help="Namespace secrets (through the API).")
app.add_typer(kv.app, name="kv", help="The namespace key-value store (through the API).")
app.add_typer(token.app, name="token", help="API tokens (on Kafka, admin rights).")
app.add_typer(log.app, name="log", help="Export and import the log of a namespace.")
app.add_typer(projections.app, name="projections", help="Rebuild the search views.")
app.add_typer(
    trigger.app,
    name="trigger",
    help="Triggers: list, enable, disable, unlock, backfill (through the API).",
)

if __name__ == "__main__":
    app()
