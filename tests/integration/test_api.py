"""The query side end to end: executor and worker as processes, indexer and API in-process,
on the real Kafka broker and the real Elasticsearch node.

One stack per module (starting Faust costs seconds); every test uses its own namespace
so tests never see each other's flows or executions.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from api.cli.client import LannerClient
from projections.store.client import SearchStore
from streams.log.producer import LogProducer
from tests.integration.stack import LOG_FLOW, InProcessIndexer, Stack, wait_for

PAUSE_FLOW = """\
id: {id}
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""


@pytest.fixture
def ns() -> str:
    return f"company.t{secrets.token_hex(3)}"


# --- flows ------------------------------------------------------------------------------


def test_flow_create_read_update_search_delete(stack: Stack, ns: str) -> None:
    created = stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"))
    assert (created["namespace"], created["id"], created["revision"]) == (ns, "hello", 1)
    assert created["description"].startswith("Says hello")
    assert {"key": "team", "value": "data"} in created["labels"]
    assert "io.kestra.plugin.core.flow.Sleep" in created["taskTypes"]

    again = stack.http.post(
        "/flows",
        content=LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"),
        headers={"content-type": "application/x-yaml"},
    )
    assert again.status_code == 409
    updated = stack.http.put(
        f"/flows/{ns}/hello",
        content=LOG_FLOW.format(id="hello", ns=ns, sleep="0.2"),
        headers={"content-type": "application/x-yaml"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["revision"] == 2

    assert stack.http.get(f"/flows/{ns}/hello").json()["revision"] == 2
    first = stack.http.get(f"/flows/{ns}/hello", params={"revision": 1}).json()
    assert "PT0.1S" in first["source"]
    revisions = stack.http.get(f"/flows/{ns}/hello/revisions").json()
    assert [r["revision"] for r in revisions] == [1, 2]

    stack.deploy(LOG_FLOW.format(id="other", ns=f"{ns}.sub", sleep="0.1"))
    stack.deploy(LOG_FLOW.format(id="elsewhere", ns=f"{ns}x", sleep="0.1"))

    def found() -> list[str] | None:
        body = stack.http.get("/flows/search", params={"namespace": ns}).json()
        ids = sorted(f["id"] for f in body["results"])
        return ids if len(ids) == 2 else None

    assert wait_for(found, 10, "flow search") == ["hello", "other"]
    by_q = stack.http.get("/flows/search", params={"q": "elsewhere", "namespace": f"{ns}x"})
    assert [f["id"] for f in by_q.json()["results"]] == ["elsewhere"]

    assert stack.http.delete(f"/flows/{ns}/hello").status_code == 204
    assert stack.http.get(f"/flows/{ns}/hello").status_code == 404
    assert stack.http.delete(f"/flows/{ns}/nope").status_code == 404


def test_invalid_flow_lists_every_problem(stack: Stack, ns: str) -> None:
    source = (
        f"id: bad\nnamespace: {ns}\ntasks:\n  - id: a\n    type: NoSuchTask\n  - id: a\n"
        "    type: io.kestra.plugin.core.log.Log\n"
    )
    response = stack.http.post(
        "/flows", content=source, headers={"content-type": "application/x-yaml"}
    )
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert len(problems) >= 2
    assert all({"path", "line", "message"} <= set(p) for p in problems)
    checked = stack.http.post(
        "/flows/validate", content=source, headers={"content-type": "text/plain"}
    ).json()
    assert checked["valid"] is False and len(checked["problems"]) == len(problems)
    wrong_type = stack.http.post("/flows", json={"id": "x"})
    assert wrong_type.status_code == 415


# --- executions -------------------------------------------------------------------------


def test_execution_runs_and_is_found_by_every_filter(stack: Stack, ns: str) -> None:
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"))
    stack.deploy(LOG_FLOW.format(id="other", ns=f"{ns}.sub", sleep="0.1"))
    first = stack.run(ns, "hello", {"name": "Ada"}, labels=["env:prod", "team:data"])
    assert first["namespace"] == ns and first["flowId"] == "hello"
    assert first["inputs"] == {"name": "Ada"}
    second = stack.run(f"{ns}.sub", "other", labels=["env:dev"])
    done = stack.until_ended(first["id"])
    stack.until_ended(second["id"])
    assert done["state"]["current"] == "SUCCESS"
    assert [t["taskId"] for t in done["taskRunList"]] == ["say", "nap", "ret"]
    assert done["taskRunList"][2]["outputs"] == {"value": "Ada"}

    def ids(**params: Any) -> set[str]:
        return {e["id"] for e in stack.search(**params)["results"]}

    # Search sees a document after the index's 1 s refresh: wait for the final states.
    wait_for(
        lambda: len(ids(namespace=ns, state=["SUCCESS"])) == 2 or None,
        10,
        "searchable executions in their final state",
    )
    assert ids(namespace=ns) == {first["id"], second["id"]}
    assert ids(namespace=f"{ns}.sub") == {second["id"]}
    assert ids(namespace=ns, flowId="hello") == {first["id"]}
    assert ids(namespace=ns, state=["SUCCESS", "FAILED"]) == {first["id"], second["id"]}
    assert ids(namespace=ns, state="RUNNING") == set()
    assert ids(namespace=ns, labels="env:prod") == {first["id"]}
    assert ids(namespace=ns, labels=["env:prod", "team:data"]) == {first["id"]}
    assert ids(namespace=ns, labels="env:test") == set()
    assert ids(namespace=ns, startDate="2000-01-01T00:00:00Z") == {first["id"], second["id"]}
    assert ids(namespace=ns, endDate="2000-01-01T00:00:00Z") == set()
    assert ids(q=first["id"]) == {first["id"]}
    assert ids(namespace=ns, q="other") == {second["id"]}
    page = stack.search(namespace=ns, size=1, page=2, sort="state.startDate:asc")
    assert page["total"] == 2 and [e["id"] for e in page["results"]] == [second["id"]]

    events = stack.http.get(f"/executions/{first['id']}/events").json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionCreated"
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert len(events) == done["seq"]

    logs = stack.http.get(f"/logs/{first['id']}").json()
    assert any(line["message"] == "Hello Ada" and line["taskId"] == "say" for line in logs)
    assert stack.http.get(f"/logs/{first['id']}", params={"minLevel": "ERROR"}).json() == []
    assert stack.http.get(f"/logs/{first['id']}", params={"taskId": "ret"}).json() == []
    assert stack.http.get(f"/logs/{first['id']}", params={"minLevel": "LOUD"}).status_code == 422
    text = stack.http.get(f"/logs/{first['id']}/download").text
    assert "Hello Ada" in text

    stats = stack.http.get("/stats/executions/daily", params={"namespace": ns}).json()
    assert sum(day["total"] for day in stats) == 2


def test_a_flow_named_like_a_control_action_runs_through_the_trigger_path(
    stack: Stack, ns: str
) -> None:
    # POST /executions/{ns}/state is the change-state route of an execution named {ns};
    # Kestra's /executions/trigger/{ns}/{flow} creates it (the CLI client uses it then).
    stack.deploy(LOG_FLOW.format(id="state", ns=ns, sleep="0.1"))
    response = stack.http.post(f"/executions/trigger/{ns}/state", json={"name": "Ada"})
    assert response.status_code == 200, response.text
    assert stack.until_ended(response.json()["id"])["state"]["current"] == "SUCCESS"
    with LannerClient(str(stack.http.base_url).split("/api/v1")[0]) as client:
        created = client.create_execution(ns, "state", {"name": "Bob"})
    assert stack.until_ended(created["id"])["taskRunList"][2]["outputs"] == {"value": "Bob"}


def test_follow_streams_states_until_the_end(stack: Stack, ns: str) -> None:
    stack.deploy(LOG_FLOW.format(id="slow", ns=ns, sleep="1"))
    execution = stack.run(ns, "slow")
    states: list[str] = []
    ended = None
    with stack.http.stream("GET", f"/executions/{execution['id']}/follow", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "execution":
                states.append(json.loads(line.split(":", 1)[1])["state"]["current"])
            elif line.startswith("data:") and event == "end":
                ended = json.loads(line.split(":", 1)[1])
                break
    assert ended == {"id": execution["id"], "state": "SUCCESS"}
    assert states[-1] == "SUCCESS" and "RUNNING" in states

    lines: list[str] = []
    with stack.http.stream("GET", f"/logs/{execution['id']}/follow", timeout=30) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "log":
                lines.append(json.loads(line.split(":", 1)[1])["message"])
            elif line.startswith("data:") and event == "end":
                break
    assert "Hello world" in lines


def test_kill_and_resume(stack: Stack, ns: str) -> None:
    stack.deploy(PAUSE_FLOW.format(id="waits", ns=ns))
    resumed = stack.run(ns, "waits")
    wait_for(
        lambda: (
            stack.http.get(f"/executions/{resumed['id']}").json()["state"]["current"] == "PAUSED"
            or None
        ),
        20,
        "PAUSED",
    )
    assert stack.http.post(f"/executions/{resumed['id']}/resume").status_code == 202
    assert stack.until_ended(resumed["id"])["state"]["current"] == "SUCCESS"
    assert stack.http.post(f"/executions/{resumed['id']}/kill").status_code == 409

    killed = stack.run(ns, "waits")
    wait_for(
        lambda: (
            stack.http.get(f"/executions/{killed['id']}").json()["state"]["current"] == "PAUSED"
            or None
        ),
        20,
        "PAUSED",
    )
    assert stack.http.delete(f"/executions/{killed['id']}").status_code == 409
    assert stack.http.post(f"/executions/{killed['id']}/kill").status_code == 202
    assert stack.until_ended(killed["id"])["state"]["current"] == "KILLED"
    assert stack.http.delete(f"/executions/{killed['id']}").status_code == 204
    assert stack.http.get(f"/executions/{killed['id']}").status_code == 404


def test_unknown_ids_and_bad_parameters(stack: Stack, ns: str) -> None:
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"))
    for path in (
        "/executions/nope",
        "/executions/nope/events",
        "/logs/nope",
        f"/flows/{ns}/nope",
        f"/flows/{ns}/nope/revisions",
    ):
        response = stack.http.get(path)
        assert response.status_code == 404, path
        assert "not found" in response.json()["message"]
    assert stack.http.post("/executions/nope/kill").status_code == 404
    assert stack.http.post(f"/executions/{ns}/nope", json={}).status_code == 404

    bad_input = stack.http.post(f"/executions/{ns}/hello", json={"nmae": "x"})
    assert bad_input.status_code == 422 and "nmae" in bad_input.json()["message"]
    bad_label = stack.http.post(f"/executions/{ns}/hello", params={"labels": "nocolon"})
    assert bad_label.status_code == 422 and "labels" in bad_label.json()["message"]
    for params, name in (
        ({"state": "SLEEPING"}, "state"),
        ({"startDate": "yesterday"}, "startDate"),
        ({"size": 0}, "size"),
        ({"sort": "bogus:asc"}, "sort"),
        ({"labels": "x"}, "labels"),
    ):
        response = stack.http.get("/executions/search", params=params)
        assert response.status_code == 422, params
        assert name in response.json()["message"], response.json()
    form = stack.http.post(f"/executions/{ns}/hello", data={"name": "Form"})
    assert form.status_code == 200, form.text
    assert form.json()["inputs"] == {"name": "Form"}


def test_health_and_metrics(stack: Stack) -> None:
    health = stack.http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "UP"
    text = stack.http.get("/metrics").text
    assert "lanner_indexer_lag_total" in text
    assert "lanner_task_runs_running" in text
    assert 'lanner_executions{state="SUCCESS"}' in text or "lanner_executions" in text


# --- indexer guarantees -----------------------------------------------------------------


def test_malformed_record_is_skipped(stack: Stack, ns: str) -> None:
    stack.deploy(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"))
    before = stack.indexer.indexer.stats.malformed
    with LogProducer(stack.settings.kafka_bootstrap) as producer:
        producer.send(stack.topics.execution_events, "garbage", b"{not json")
        producer.send(
            stack.topics.execution_events,
            "garbage2",
            json.dumps({"type": "ExecutionCreated"}).encode(),
        )
    execution = stack.run(ns, "hello")
    assert stack.until_ended(execution["id"])["state"]["current"] == "SUCCESS"
    wait_for(
        lambda: stack.indexer.indexer.stats.malformed >= before + 2 or None,
        10,
        "malformed records counted",
    )


def test_indexer_restart_leaves_no_gaps_or_duplicates(stack: Stack, ns: str) -> None:
    stack.deploy(LOG_FLOW.format(id="burst", ns=ns, sleep="0.05"))
    first = [stack.run(ns, "burst")["id"] for _ in range(5)]
    stack.indexer.stop()
    # Creating does not wait for the views: answered at once, as created.
    created = stack.http.post(f"/executions/{ns}/burst", json={})
    assert created.status_code == 200, created.text
    assert created.json()["state"]["current"] == "CREATED" and created.json()["seq"] == 1
    # Asked to wait for them (read-your-writes), while no indexer runs: 202, not visible.
    pending = []
    for _ in range(2):
        pending.append(
            stack.http.post(f"/executions/{ns}/burst", json={}, params={"visible": "true"})
        )
    assert all(r.status_code == 202 for r in pending), [r.status_code for r in pending]
    second = [created.json()["id"], *(r.json()["id"] for r in pending)]
    # A new indexer in the same group continues from the committed offsets.
    stack.indexer = InProcessIndexer(stack.settings).start()
    for execution_id in first + second:
        assert stack.until_ended(execution_id)["state"]["current"] == "SUCCESS"
    store = SearchStore(stack.settings.elasticsearch_url, stack.settings.full_index_prefix)
    try:
        store.refresh("events")
        store.refresh("executions")
        for execution_id in first + second:
            doc = store.get("executions", execution_id)
            assert doc is not None
            _total, events = store.search(
                "events", {"term": {"executionId": execution_id}}, size=1000, sort=[{"seq": "asc"}]
            )
            assert [e["seq"] for e in events] == list(range(1, doc["seq"] + 1))
        assert store.count("executions", {"term": {"namespace": ns}}) == len(first + second)
    finally:
        store.close()


# --- command line -------------------------------------------------------------------------


def test_cli_reads_executions_through_the_api(stack: Stack, ns: str, tmp_path: Path) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from api.cli.client import LannerClient
    from api.cli.deploy import deploy_directory
    from api.cli.main import app

    (tmp_path / "hello.yml").write_text(LOG_FLOW.format(id="hello", ns=ns, sleep="0.1"))
    (tmp_path / "broken.yaml").write_text(f"id: broken\nnamespace: {ns}\ntasks: []\n")
    url = str(stack.http.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    console = Console(record=True, width=200)
    with LannerClient(url) as client:
        assert deploy_directory(client, tmp_path, console) == 1
        # Deploying the same folder again updates nothing and creates no revision.
        assert deploy_directory(client, tmp_path, console) == 1
    printed = console.export_text()
    assert f"{ns}.hello revision 1, created" in printed
    assert f"{ns}.hello revision 1, unchanged" in printed
    assert "broken.yaml" in printed and "line" in printed

    execution = stack.run(ns, "hello", {"name": "Cli"})
    runner = CliRunner()
    env = {"LANNER_URL": url}
    followed = runner.invoke(app, ["execution", "follow", execution["id"]], env=env)
    assert followed.exit_code == 0, followed.output
    assert "SUCCESS" in followed.output and "Hello Cli" in followed.output
    got = runner.invoke(app, ["execution", "get", execution["id"], "--output", "json"], env=env)
    assert json.loads(got.output)["state"]["current"] == "SUCCESS"
    events = runner.invoke(app, ["execution", "events", execution["id"]], env=env)
    assert "ExecutionCreated" in events.output and "ExecutionSucceeded" in events.output
    logs = runner.invoke(app, ["execution", "logs", execution["id"]], env=env)
    assert "Hello Cli" in logs.output
    wait_for(
        lambda: (
            runner.invoke(app, ["execution", "list", "--namespace", ns], env=env).output.count(
                execution["id"]
            )
            == 1
            or None
        ),
        10,
        "list",
    )
    missing = runner.invoke(app, ["execution", "get", "nope"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output
    unreachable = runner.invoke(
        app, ["execution", "get", "x"], env={"LANNER_URL": "http://127.0.0.1:9"}
    )
    assert unreachable.exit_code == 3


# --- one error shape ----------------------------------------------------------------------


def test_real_errors_have_the_one_declared_shape(stack: Stack, ns: str) -> None:
    """Errors from the running API, each in the ErrorBody shape (nothing else in it) and
    with a status its operation declares in /openapi.json."""
    from api.web.models import ErrorBody

    document = stack.http.get(str(stack.http.base_url.copy_with(path="/openapi.json"))).json()
    declared = {
        operation["operationId"]: set(operation["responses"])
        for item in document["paths"].values()
        for operation in item.values()
    }
    yaml = {"content-type": "application/x-yaml"}
    source = LOG_FLOW.format(id="hello", ns=ns, sleep="0.1")
    stack.deploy(source)
    too_big = b"a" * (stack.settings.limits.request_body_bytes + 1)
    answers = {
        ("get_flow", 404): stack.http.get(f"/flows/{ns}/nope"),
        ("create_execution", 404): stack.http.post(f"/executions/{ns}/nope", json={}),
        ("get_execution", 404): stack.http.get("/executions/no-such-execution"),
        ("create_flow", 422): stack.http.post("/flows", content="id: [unclosed\n", headers=yaml),
        ("create_flow", 409): stack.http.post("/flows", content=source, headers=yaml),
        ("create_flow", 413): stack.http.post("/flows", content=too_big, headers=yaml),
        ("create_flow", 415): stack.http.post("/flows", json={"id": "x"}),
        ("search_executions", 422): stack.http.get("/executions/search", params={"state": "NOPE"}),
        ("search_executions", 400): stack.http.get(
            "/executions/search", params={"page": 1000, "size": 1000}
        ),
        ("create_execution", 422): stack.http.post(
            f"/executions/{ns}/hello", json={"name": {"not": "a string"}}
        ),
    }
    for (operation_id, status), response in answers.items():
        where = f"{operation_id} {status}: {response.text[:300]}"
        assert response.status_code == status, where
        assert str(status) in declared[operation_id], where
        assert response.headers["content-type"].startswith("application/json"), where
        body = ErrorBody.model_validate(response.json())
        assert body.message, where
    invalid = answers[("create_flow", 422)].json()
    assert invalid["problems"] and {"path", "line", "message"} == set(invalid["problems"][0])
    too_large = answers[("create_flow", 413)].json()
    assert too_large["limit"] == "request_body_bytes"
    assert too_large["maxBytes"] == stack.settings.limits.request_body_bytes
    assert answers[("get_flow", 404)].json() == {"message": f"flow {ns}.nope not found"}
    assert "already exists" in answers[("create_flow", 409)].json()["message"]
    [refused] = answers[("search_executions", 422)].json()["errors"]
    assert refused["parameter"] == "state"
    assert answers[("create_execution", 422)].json()["errors"]
