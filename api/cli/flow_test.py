"""`lanner flow test`: deploy, run once, wait, print (the logic behind the command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from api.cli.test_environment import TestEnvironment, TestEnvironmentError
from api.cli.validation_output import flow_files
from projections.views.kestra_shape import execution_to_api
from schemas.execution import Execution
from schemas.states import State
from streams.writers.executions import InvalidInputs, UnknownFlow


def run_flow_test(
    file: Path,
    flows_dir: Path | None,
    inputs: dict[str, Any],
    timeout_s: float,
    *,
    as_json: bool,
    bootstrap: str | None,
    console: Console,
) -> int:
    where = bootstrap or "the embedded server"
    with (
        console.status(f"starting a temporary Lanner on {where} ..."),
        TestEnvironment(bootstrap) as env,
    ):
        env.wait_ready()
        for companion in (
            [p for p in flow_files([flows_dir]) if isinstance(p, Path)] if flows_dir else []
        ):
            if companion.resolve() != file.resolve():
                env.flows.deploy(companion.read_text(), actor="cli")
        deployed = env.flows.deploy(file.read_text(), actor="cli")
        if isinstance(deployed, list):  # validated before; only a race could land here
            for problem in deployed:
                console.print(str(problem))
            return 2
        try:
            requested = env.executions.create(
                deployed.namespace, deployed.flow_id, inputs, actor="cli"
            )
        except InvalidInputs as exc:
            console.print(f"[red]refused:[/red] {exc}")
            return 2
        except UnknownFlow as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        console.log(
            f"execution {requested.execution_id} of {deployed.namespace}.{deployed.flow_id} created"
        )
        env.phase("flows deployed, execution created")
        try:
            state = env.wait_for_end(requested.execution_id, timeout_s)
            env.phase("execution ran")
        except TestEnvironmentError as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
        if state is None:
            late = f"execution {requested.execution_id} did not end within {timeout_s:.0f} s"
            console.print(f"[red]{late}[/red]")
            return 1
        # Printed before the temporary environment is torn down: the result is ready now.
        return _report(state, env, as_json=as_json, console=console)


def _report(state: Execution, env: TestEnvironment, *, as_json: bool, console: Console) -> int:
    total = sum(seconds for _name, seconds in env.phases)
    console.print(
        f"[dim]{total:.1f} s: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in env.phases)
        + "[/dim]",
        soft_wrap=True,
    )
    if as_json:
        print(json.dumps(execution_to_api(state), indent=2, default=str))
    else:
        _print_execution(state, console)
    return 0 if state.state in (State.SUCCESS, State.WARNING) else 1


def _print_execution(state: Execution, console: Console) -> None:
    table = Table(title=f"{state.namespace}.{state.flow_id} — execution {state.id}")
    for column in ("task", "value", "state", "seconds", "outputs / error"):
        table.add_column(column)
    for run in state.task_runs.values():
        seconds = (
            (run.history[-1].date - run.history[0].date).total_seconds() if run.history else 0.0
        )
        detail = run.error or (json.dumps(run.outputs, default=str)[:120] if run.outputs else "")
        table.add_row(run.task_id, run.value or "", run.state.value, f"{seconds:.3f}", detail)
    Console().print(table)
    colour = "green" if state.state in (State.SUCCESS, State.WARNING) else "red"
    console.print(
        f"[{colour}]{state.state.value}[/{colour}]" + (f": {state.error}" if state.error else "")
    )
    if state.outputs:
        console.print(f"outputs: {json.dumps(state.outputs, default=str)}")
