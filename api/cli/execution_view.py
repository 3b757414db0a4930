"""An execution as `lanner execution get` prints it: state, inputs, outputs, and every
task run with its duration, attempts and outputs."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from api.cli.output import between, console, print_table, seconds, short_time, state_text, table


def _attempts(run: dict[str, Any]) -> str:
    attempts = run.get("attempts") or []
    if not attempts:
        return "-"
    parts = []
    for attempt in attempts:
        took = between(attempt["state"].get("startDate"), attempt["state"].get("endDate"))
        parts.append(f"#{attempt['number']} {attempt['state']['current']} {seconds(took)}")
    return "; ".join(parts)


def show_execution(found: dict[str, Any], wide: bool) -> None:
    state = found["state"]
    console.print(
        Text.assemble(("Execution ", "bold"), found["id"], "  ", state_text(state["current"])),
        soft_wrap=True,
    )
    console.print(
        f"flow {found['namespace']}.{found['flowId']} revision "
        f"{found['flowRevision']}; started {short_time(state.get('startDate'))}, "
        f"ended {short_time(state.get('endDate'))}, took "
        f"{seconds(state.get('duration'))}",
        soft_wrap=True,
    )
    if found.get("asOf"):
        point = found["asOf"]
        console.print(
            Text(
                f"as of event {point['seq']} of {point['lastSeq']} ({point['time']})",
                style="yellow",
            )
        )
    if found.get("error"):
        console.print(Text(f"error: {found['error']}", style="red"), soft_wrap=True)
    for name in ("inputs", "outputs"):
        if found.get(name):
            console.print(Text(f"{name}: {json.dumps(found[name], default=str)}"), soft_wrap=True)
    columns = ["TASK", "STATE", "DURATION", "ATTEMPTS", "OUTPUTS"]
    if wide:
        columns.insert(0, "TASK RUN ID")
    rows = table(*columns, wide=wide, keep=("TASK RUN ID", "DURATION"))
    for run in found["taskRunList"]:
        outputs = json.dumps(run.get("outputs") or {}, default=str)
        detail = outputs if run.get("outputs") or not run.get("error") else run["error"]
        cells: list[str | Text] = [
            run["taskId"] + (f" [{run['value']}]" if run.get("value") else ""),
            state_text(run["state"]["current"]),
            seconds(run["state"].get("duration")),
            _attempts(run),
            Text(detail),
        ]
        if wide:
            cells.insert(0, run["id"])
        rows.add_row(*cells)
    print_table(rows, wide)
