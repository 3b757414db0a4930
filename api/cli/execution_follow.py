"""Following an execution live: task state changes and log lines, interleaved as they
come, until it ends (`lanner execution follow`, `lanner execution run --follow`).

Two server-sent event streams of the API: the execution's (state changes) and its logs'
(every line from the first, then new ones as they are indexed). The state stream is read
on a thread; both print through one lock, so lines never mix.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text

from api.cli.client import ClientError, LannerClient
from api.cli.output import console, state_text

_LEVEL_STYLE = {"ERROR": "red", "WARN": "yellow", "DEBUG": "dim", "TRACE": "dim"}
_print_lock = threading.Lock()


def print_log(line: dict[str, Any]) -> None:
    style = _LEVEL_STYLE.get(line["level"], "")
    with _print_lock:
        console.print(
            Text.assemble(
                (line["timestamp"], "dim"),
                " ",
                (f"{line['level']:<5}", style),
                " ",
                (f"[{line.get('taskId') or '-'}]", "cyan"),
                " ",
                line["message"],
            ),
            soft_wrap=True,
        )


def _print_states(client: LannerClient, execution_id: str, failures: list[ClientError]) -> None:
    last: dict[str, str] = {}
    try:
        for event in client.follow(execution_id):
            if event.event != "execution":
                continue
            for run in event.data.get("taskRunList", []):
                state = run["state"]["current"]
                if last.get(run["id"]) != state:
                    last[run["id"]] = state
                    label = run["taskId"] + (f" [{run['value']}]" if run.get("value") else "")
                    with _print_lock:
                        console.print(
                            Text.assemble(("task ", "dim"), label, " ", state_text(state)),
                            soft_wrap=True,
                        )
    except ClientError as exc:
        failures.append(exc)


def follow_until_end(client: LannerClient, execution_id: str) -> str:
    """Print until the execution ends; its final state. ClientError if a stream fails."""
    failures: list[ClientError] = []
    states_client = LannerClient(client.url, tenant=client.tenant)
    states = threading.Thread(
        target=_print_states,
        name="follow-states",
        args=(states_client, execution_id, failures),
        daemon=True,
    )
    states.start()
    final = "?"
    try:
        for event in client.follow(execution_id, logs=True):
            if event.event == "log":
                print_log(event.data)
            elif event.event == "end":
                final = str(event.data.get("state"))
        # The state stream ends at the same terminal state; let it print its last lines.
        states.join(timeout=5)
    finally:
        states_client.close()
    if failures:
        raise failures[0]
    with _print_lock:
        console.print(
            Text.assemble("execution ", execution_id, " ", state_text(final)), soft_wrap=True
        )
    return final
