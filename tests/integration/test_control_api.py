"""Control and resilience through the API, on the real broker and search node: retries,
timeouts, kill (with the worker's job stopped), restart, replay, state by hand, and the
refusals that leave an execution untouched."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.integration.stack import Stack, wait_for

FLAKY = """\
id: flaky
namespace: {ns}
inputs:
  - id: fail
    type: BOOLEAN
    defaults: true
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.fail }}}}"
    errorMessage: failing on purpose
    retry:
      type: constant
      interval: PT0.5S
      maxAttempt: 3
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.first.value }}}} and last"
"""

SLOW = """\
id: slow
namespace: {ns}
tasks:
  - id: long_sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
  - id: with_timeout
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
    timeout: PT1S
"""

RETRIED = """\
id: retried
namespace: {ns}
retry:
  type: constant
  interval: PT0.5S
  maxAttempt: 3
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: failing on purpose
"""

TIMEOUT = """\
id: timeout
namespace: {ns}
tasks:
  - id: too_long
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
    timeout: PT1S
"""


@pytest.fixture
def ns() -> str:
    return f"company.c{secrets.token_hex(3)}"


def _runs(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r for r in execution["taskRunList"] if r["taskId"] == task_id]


def test_retries_show_each_attempt(stack: Stack, ns: str) -> None:
    stack.deploy(FLAKY.format(ns=ns))
    execution = stack.until_ended(stack.run(ns, "flaky")["id"])
    assert execution["state"]["current"] == "FAILED"
    [check] = _runs(execution, "check")
    assert [a["state"]["current"] for a in check["attempts"]] == ["FAILED"] * 3
    starts = [a["state"]["startDate"] for a in check["attempts"]]
    assert starts == sorted(starts) and len(set(starts)) == 3


def test_a_flow_retry_creates_new_executions_linked_to_the_first(stack: Stack, ns: str) -> None:
    """CREATE_NEW_EXECUTION: the retry is a timer in the executor, then a new execution."""
    stack.deploy(RETRIED.format(ns=ns))
    first = stack.until_ended(stack.run(ns, "retried")["id"])
    assert first["state"]["current"] == "FAILED"

    def three_failed() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = stack.search(namespace=ns, flowId="retried")["results"]
        failed = [e for e in found if e["state"]["current"] == "FAILED"]
        return found if len(failed) == 3 else None

    executions = wait_for(three_failed, 30, "the flow's two retries to fail")
    retries = sorted(
        (e for e in executions if e["id"] != first["id"]), key=lambda e: e["trigger"]["attempt"]
    )
    assert [r["trigger"]["attempt"] for r in retries] == [2, 3]
    assert {r["trigger"]["originalId"] for r in retries} == {first["id"]}
    assert [r["trigger"]["previousId"] for r in retries] == [first["id"], retries[0]["id"]]
    # maxAttempt 3 counts the first execution: no fourth one comes.
    time.sleep(1.5)
    assert len(stack.search(namespace=ns, flowId="retried")["results"]) == 3


def test_timeout_fails_the_task_with_a_clear_message(stack: Stack, ns: str) -> None:
    stack.deploy(TIMEOUT.format(ns=ns))
    started = time.monotonic()
    execution = stack.until_ended(stack.run(ns, "timeout")["id"])
    assert time.monotonic() - started < 20
    [run] = _runs(execution, "too_long")
    assert run["state"]["current"] == "FAILED"
    assert "timed out after PT1S" in run["error"]


def test_kill_stops_the_job_on_its_worker(stack: Stack, ns: str) -> None:
    stack.deploy(SLOW.format(ns=ns))
    execution_id = stack.run(ns, "slow")["id"]
    wait_for(
        lambda: any(
            r["attempts"] and r["attempts"][0].get("workerId")
            for r in stack.http.get(f"/executions/{execution_id}").json()["taskRunList"]
        ),
        30,
        "the worker to pick the job",
    )
    response = stack.http.post(f"/executions/{execution_id}/kill")
    assert response.status_code == 202, response.text
    execution = stack.until_ended(execution_id)
    assert execution["state"]["current"] == "KILLED"
    history = [h["state"] for h in execution["state"]["histories"]]
    assert history[-2:] == ["KILLING", "KILLED"]
    # Killing a finished execution is refused and changes nothing.
    again = stack.http.post(f"/executions/{execution_id}/kill")
    assert again.status_code == 409 and "already ended" in again.json()["message"]


def test_restart_then_replay_then_state_by_hand(stack: Stack, ns: str) -> None:
    stack.deploy(FLAKY.format(ns=ns))
    failed = stack.until_ended(stack.run(ns, "flaky")["id"])
    execution_id = failed["id"]
    assert failed["state"]["current"] == "FAILED"

    # Restart: the failed task runs again (it still fails: its input says so).
    response = stack.http.post(f"/executions/{execution_id}/restart")
    assert response.status_code == 202, response.text

    def restarted_and_ended() -> dict[str, Any] | None:
        body: dict[str, Any] = stack.http.get(f"/executions/{execution_id}").json()
        states = [h["state"] for h in body["state"]["histories"]]
        return body if "RESTARTED" in states and body["state"]["current"] == "FAILED" else None

    restarted = wait_for(restarted_and_ended, 30, "the restarted execution to end")
    [check] = _runs(restarted, "check")
    assert len(check["attempts"]) == 6  # three before the restart, three after
    assert len(_runs(restarted, "first")[0]["attempts"]) == 1

    # Change the failed task run's state by hand: the execution carries on to the end.
    response = stack.http.post(
        f"/executions/{execution_id}/state", json={"taskRunId": check["id"], "state": "SUCCESS"}
    )
    assert response.status_code == 202, response.text

    def succeeded() -> dict[str, Any] | None:
        body: dict[str, Any] = stack.http.get(f"/executions/{execution_id}").json()
        return body if body["state"]["current"] == "SUCCESS" else None

    done = wait_for(succeeded, 30, "the execution to succeed")
    assert _runs(done, "last")[0]["outputs"] == {"value": "one and last"}

    # Replay from `check` into a new execution that links to the original.
    response = stack.http.post(
        f"/executions/{execution_id}/replay", params={"taskRunId": check["id"]}
    )
    assert response.status_code == 202, response.text
    replay = stack.until_ended(response.json()["id"])
    assert replay["originalId"] == execution_id
    assert replay["state"]["current"] == "FAILED"  # `check` ran again, and failed again
    assert _runs(replay, "first")[0]["id"] == _runs(done, "first")[0]["id"]
    assert _runs(replay, "check")[0]["id"] != check["id"]
    events = stack.http.get(f"/executions/{execution_id}/events").json()
    assert events[-1]["type"] == "ExecutionReplayed"


def test_refusals_leave_the_execution_untouched(stack: Stack, ns: str) -> None:
    stack.deploy(FLAKY.format(ns=ns))
    done = stack.until_ended(stack.run(ns, "flaky", {"fail": False})["id"])
    execution_id = done["id"]
    before = stack.http.get(f"/executions/{execution_id}/events").json()
    cases = [
        (stack.http.post(f"/executions/{execution_id}/resume"), 409, "not PAUSED"),
        (stack.http.post(f"/executions/{execution_id}/pause"), 409, "only a RUNNING"),
        (stack.http.post(f"/executions/{execution_id}/kill"), 409, "already ended"),
        (stack.http.post(f"/executions/{execution_id}/restart"), 409, "only a FAILED"),
        (
            stack.http.post(f"/executions/{execution_id}/replay", params={"taskRunId": "nope"}),
            422,
            "no task run nope",
        ),
        (
            stack.http.post(f"/executions/{execution_id}/replay", params={"revision": 99}),
            422,
            "no revision 99",
        ),
        (
            stack.http.post(
                f"/executions/{execution_id}/state", json={"taskRunId": "nope", "state": "SUCCESS"}
            ),
            422,
            "no task run",
        ),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["message"]
    time.sleep(1.0)
    assert stack.http.get(f"/executions/{execution_id}/events").json() == before


def test_control_from_the_command_line(stack: Stack, ns: str) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    stack.deploy(FLAKY.format(ns=ns))
    failed = stack.until_ended(stack.run(ns, "flaky")["id"])
    url = str(stack.http.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    runner = CliRunner()
    env = {"LANNER_URL": url}
    restarted = runner.invoke(app, ["execution", "restart", failed["id"]], env=env)
    assert restarted.exit_code == 0, restarted.output
    assert "restart of execution" in restarted.output
    refused = runner.invoke(app, ["execution", "resume", failed["id"]], env=env)
    assert refused.exit_code == 1 and "PAUSED" in refused.output
    [check] = _runs(failed, "check")
    wait_for(
        lambda: (
            stack.http.get(f"/executions/{failed['id']}").json()["state"]["current"] == "FAILED"
            and len(
                _runs(stack.http.get(f"/executions/{failed['id']}").json(), "check")[0]["attempts"]
            )
            == 6
        ),
        30,
        "the restart to end",
    )
    changed = runner.invoke(
        app, ["execution", "set-state", failed["id"], check["id"], "success"], env=env
    )
    assert changed.exit_code == 0, changed.output
    replayed = runner.invoke(app, ["execution", "replay", failed["id"]], env=env)
    assert replayed.exit_code == 0 and "new execution" in replayed.output
