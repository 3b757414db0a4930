"""Namespace pluginDefaults on the real broker and search store: set through the API and
the CLI, applied when a flow is deployed and to the next execution after a change, with
Kestra's precedence (the flow's own, then the namespace's, then its parents'; forced wins
over the task), and refused clearly when they are malformed or would break a flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.stack import REPO, Stack, wait_for

pytestmark = pytest.mark.integration
LOG = "io.kestra.plugin.core.log.Log"

# No message: it validates only with a default that gives one.
BARE = f"""\
id: bare
namespace: company.team
tasks:
  - id: say
    type: {LOG}
"""
OWN = f"""\
id: own
namespace: company.team
pluginDefaults:
  - type: {LOG}
    values:
      message: from the flow
tasks:
  - id: say
    type: {LOG}
"""


def _put(stack: Stack, namespace: str, body: Any) -> Any:
    return stack.http.put(f"/namespaces/{namespace}/plugindefaults", json=body)


def _said(stack: Stack, flow_id: str) -> tuple[str, str]:
    """(message, level) of the `say` task's log line in a fresh execution of the flow."""
    created = stack.run("company.team", flow_id)
    ended = stack.until_ended(created["id"], timeout_s=120)
    assert ended["state"]["current"] == "SUCCESS", ended

    def probe() -> tuple[str, str] | None:
        lines = stack.http.get(f"/logs/{created['id']}").json()
        said = [(str(x["message"]), str(x["level"])) for x in lines if x.get("taskId") == "say"]
        return said[0] if said else None

    return wait_for(probe, 30, f"the log line of {flow_id}")


def _cli(stack: Stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_URL": f"http://127.0.0.1:{stack.settings.api_port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args],
        cwd=REPO,
        env=env,
        text=True,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_namespace_defaults_apply_at_deploy_and_to_the_next_execution(stack: Stack) -> None:
    refused = stack.http.post(
        "/flows", content=BARE, headers={"content-type": "application/x-yaml"}
    )
    assert refused.status_code == 422  # no message, no default yet

    parent = _put(
        stack,
        "company",
        {"pluginDefaults": [{"type": LOG, "values": {"message": "from company", "level": "WARN"}}]},
    )
    assert parent.status_code == 200, parent.text
    stack.deploy(BARE)
    assert _said(stack, "bare") == ("from company", "WARN")

    # The child namespace is more important than its parent; the change re-revisions the
    # flow, and the next execution runs with it.
    team = _cli(
        stack,
        "namespace",
        "defaults",
        "set",
        "company.team",
        "-",
        stdin="pluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n"
        "      message: from team\n",
    )
    assert team.returncode == 0, team.stderr
    assert "flow company.team.bare: revision 2 (updated)" in team.stderr
    assert _said(stack, "bare") == ("from team", "WARN")

    # A flow's own default wins over the namespace's, unless the namespace forces.
    stack.deploy(OWN)
    assert _said(stack, "own")[0] == "from the flow"
    forced = _put(
        stack,
        "company.team",
        [{"type": LOG, "forced": True, "values": {"message": "forced by team"}}],
    )
    assert forced.status_code == 200, forced.text
    assert {(f["id"], f["outcome"]) for f in forced.json()["flows"]} == {
        ("bare", "updated"),
        ("own", "updated"),
    }
    assert _said(stack, "own")[0] == "forced by team"
    assert _said(stack, "bare") == ("forced by team", "WARN")

    shown = _cli(stack, "namespace", "defaults", "get", "company.team", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    in_force = json.loads(shown.stdout)["inForce"]
    assert [d["values"]["message"] for d in in_force] == ["forced by team", "from company"]


def test_bad_namespace_defaults_are_refused_and_change_nothing(stack: Stack) -> None:
    assert _put(stack, "acme", [{"type": LOG, "values": {"message": "kept"}}]).status_code == 200
    stack.deploy(BARE.replace("id: bare", "id: relies").replace("company.team", "acme.sales"))
    before = stack.http.get("/namespaces/acme/plugindefaults").json()
    assert before["pluginDefaults"] == [
        {"type": LOG, "forced": False, "values": {"message": "kept"}}
    ]

    malformed = _put(stack, "acme", [{"values": {"message": "no type"}}])
    assert malformed.status_code == 422
    assert "pluginDefaults[0.type]: Field required" in malformed.json()["message"]
    not_a_list = stack.http.put(
        "/namespaces/acme/plugindefaults",
        content=b"just text",
        headers={"content-type": "application/x-yaml"},
    )
    assert not_a_list.status_code == 422

    # Clearing them would leave acme.sales.relies without its message: refused, unchanged.
    breaking = _put(stack, "acme", [])
    assert breaking.status_code == 422
    message = breaking.json()["message"]
    assert "flow acme.sales.relies would not validate" in message
    assert "message" in message
    assert stack.http.get("/namespaces/acme/plugindefaults").json() == before
    assert _put(stack, "not a namespace!", []).status_code == 422
