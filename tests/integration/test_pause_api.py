"""Pause a running execution (Kestra's POST /executions/{id}/pause) on the real broker and
search node: the task running on its worker finishes and is recorded, the next task does
not start while PAUSED, and a resume carries the execution on to SUCCESS."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.integration.stack import Stack, wait_for

SLEEP_THEN_LOG = """\
id: sleep_then_log
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT6S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: carried on
"""


@pytest.fixture
def ns() -> str:
    return f"company.p{secrets.token_hex(3)}"


def _runs(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r for r in execution["taskRunList"] if r["taskId"] == task_id]


def test_pause_during_a_sleep_then_resume(stack: Stack, ns: str) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    stack.deploy(SLEEP_THEN_LOG.format(ns=ns))
    execution_id = stack.run(ns, "sleep_then_log")["id"]

    def get() -> dict[str, Any]:
        body: dict[str, Any] = stack.http.get(f"/executions/{execution_id}").json()
        return body

    wait_for(
        lambda: any(
            r["attempts"] and r["attempts"][0].get("workerId") for r in _runs(get(), "nap")
        ),
        30,
        "the worker to pick the sleep",
    )
    # Paused from the command line, while the sleep runs on its worker.
    url = str(stack.http.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    runner = CliRunner()
    env = {"LANNER_URL": url}
    paused = runner.invoke(app, ["execution", "pause", execution_id], env=env)
    assert paused.exit_code == 0, paused.output
    assert f"pause of execution {execution_id} accepted" in paused.output

    # The sleep ends and is recorded; the execution stays PAUSED and `after` never starts.
    def slept_while_paused() -> dict[str, Any] | None:
        body = get()
        [nap] = _runs(body, "nap")
        ok = body["state"]["current"] == "PAUSED" and nap["state"]["current"] == "SUCCESS"
        return body if ok else None

    wait_for(slept_while_paused, 30, "the sleep to end while the execution is PAUSED")
    time.sleep(2.0)
    still = get()
    assert still["state"]["current"] == "PAUSED"
    assert _runs(still, "after") == []
    # A second pause is refused: the execution is not RUNNING.
    again = stack.http.post(f"/executions/{execution_id}/pause")
    assert again.status_code == 409, again.text
    assert again.json()["message"] == (
        f"execution {execution_id} is PAUSED; only a RUNNING execution can be paused"
    )

    response = stack.http.post(f"/executions/{execution_id}/resume")
    assert response.status_code == 202, response.text
    done = stack.until_ended(execution_id)
    assert done["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in done["state"]["histories"]] == [
        "CREATED",
        "RUNNING",
        "PAUSED",
        "RUNNING",
        "SUCCESS",
    ]
    assert _runs(done, "after")[0]["state"]["current"] == "SUCCESS"

    # A gapless history: paused during the sleep, the sleep ended, then resumed.
    events = stack.http.get(f"/executions/{execution_id}/events").json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len(events) == done["seq"]
    types = [e["type"] for e in events]
    nap_id = _runs(done, "nap")[0]["id"]
    nap_ended = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "TaskRunSucceeded" and e.get("task_run_id") == nap_id
    )
    assert types.index("ExecutionPaused") < nap_ended < types.index("ExecutionResumed")
    created = [e["task_id"] for e in events if e["type"] == "TaskRunCreated"]
    assert created == ["nap", "after"]
    after_created = next(i for i, e in enumerate(events) if e.get("task_id") == "after")
    assert after_created > types.index("ExecutionResumed")

    # A finished execution cannot be paused; the command line says why and exits 1.
    refused = runner.invoke(app, ["execution", "pause", execution_id], env=env)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert execution_id in said and "SUCCESS" in said and "RUNNING" in said
