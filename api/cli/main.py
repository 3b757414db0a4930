"""The `lanner` command line: one typer app, one module per command group."""

from __future__ import annotations

import typer

from api.cli import execution, flow, log, projections, replay, schema, server

app = typer.Typer(
    no_args_is_help=True, help="Lanner: event-driven orchestration on a streaming log."
)
app.add_typer(flow.app, name="flow", help="Validate, deploy and test flows.")
app.add_typer(execution.app, name="execution", help="Read executions.")
app.add_typer(schema.app, name="schema", help="JSON Schemas of the flow language.")
app.add_typer(server.app, name="server", help="Run Lanner's server processes.")
app.add_typer(replay.app, name="replay", help="Replay recorded histories with the current code.")
app.add_typer(log.app, name="log", help="Export and import the log of a namespace.")
app.add_typer(projections.app, name="projections", help="Rebuild the search views.")

if __name__ == "__main__":
    app()
