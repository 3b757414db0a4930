"""Tenants and access on the real Kafka and Elasticsearch: two tenants on one broker and
one search node, each with its executor, worker and indexer (as Lanner runs them), one
API serving both with authentication on."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.access.admin import create_token, revoke_token
from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics, wait_group_consuming
from streams.log.topics import Topics
from tests.harness.common import free_ports, stop_process
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.stack import REPO, InProcessIndexer, _spawn, wait_for

TENANTS = ("alpha", "beta")
NS = "company.team"

FLOW = """\
id: hello
namespace: {ns}
description: the flow of {tenant}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello from {tenant}"
"""


@dataclass
class Tenancy:
    base: LannerSettings
    url: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    indexers: list[InProcessIndexer] = field(default_factory=list)

    def settings(self, tenant: str) -> LannerSettings:
        return self.base.for_tenant(tenant)

    def client(self, token: str | None, tenant: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        path = f"/api/v1/{tenant}" if tenant else "/api/v1"
        return httpx.Client(base_url=f"{self.url}{path}", headers=headers, timeout=30)

    def token(self, name: str, tenant: str | None, read_only: bool = False) -> str:
        clear, _record = create_token(self.base, name, tenant, read_only)
        self.tokens[name] = clear
        return clear


@pytest.fixture(scope="module")
def tenancy(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenancy]:
    prefix = f"t{secrets.token_hex(4)}"
    (api_port,) = free_ports(1)
    work = tmp_path_factory.mktemp("tenants")
    base = LannerSettings(
        tenant_id=TENANTS[0],
        kafka_bootstrap=kafka_broker.bootstrap,
        elasticsearch_url=es_node.url,
        topic_prefix=f"{prefix}.",
        index_prefix=prefix,
        partitions=2,
        worker_threads=2,
        scheduler_enabled=False,
        api_port=api_port,
        data_dir=str(work / "data"),
        read_your_writes_timeout_s=5.0,
        auth=True,
        secret_key="the key of this test installation",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "LANNER_ELASTICSEARCH_URL": es_node.url,
        "LANNER_TOPIC_PREFIX": f"{prefix}.",
        "LANNER_INDEX_PREFIX": prefix,
        "LANNER_PARTITIONS": "2",
        "LANNER_WORKER_THREADS": "2",
        "LANNER_DATA_DIR": str(work / "data"),
        "LANNER_SCHEDULER_ENABLED": "false",
        "LANNER_LOG_LEVEL": "WARNING",
        "LANNER_SECRET_KEY": "the key of this test installation",
    }
    procs: list[tuple[Any, str]] = []
    for tenant in TENANTS:
        ensure_lanner_topics(base.for_tenant(tenant))
        tenant_env = {**env, "LANNER_TENANT_ID": tenant}
        log_dir = work / tenant
        log_dir.mkdir()
        procs += [
            (_spawn(role, tenant_env, log_dir), f"{tenant} {role}")
            for role in ("executor", "worker")
        ]
    for tenant in TENANTS:
        settings = base.for_tenant(tenant)
        topics = Topics(settings.full_topic_prefix)
        for role, topic in (("executor", topics.commands), ("worker", topics.worker_jobs)):
            wait_group_consuming(
                kafka_broker.bootstrap, f"{settings.full_topic_prefix}{role}", topic, 120
            )
    indexers = [InProcessIndexer(base.for_tenant(t)).start() for t in TENANTS]
    from api.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(base), host="127.0.0.1", port=api_port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, "the API to start")
    found = Tenancy(
        base,
        f"http://127.0.0.1:{api_port}",
        {**env, "LANNER_URL": f"http://127.0.0.1:{api_port}"},
        indexers=indexers,
    )
    found.token("admin", None)
    for tenant in TENANTS:
        found.token(f"{tenant}-writer", tenant)
        found.token(f"{tenant}-reader", tenant, read_only=True)
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        for indexer in indexers:
            indexer.stop()
        for proc, what in procs:
            stop_process(proc, what=what)


def _until_ended(http: httpx.Client, execution_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/executions/{execution_id}").json()
        return (
            body
            if body.get("state", {}).get("current") in ("SUCCESS", "WARNING", "FAILED", "KILLED")
            else None
        )

    return wait_for(probe, 30, f"execution {execution_id}")


def test_two_tenants_run_the_same_flow_and_see_only_their_own(tenancy: Tenancy) -> None:
    clients = {t: tenancy.client(tenancy.tokens[f"{t}-writer"], t) for t in TENANTS}
    runs: dict[str, dict[str, Any]] = {}
    for tenant, http in clients.items():
        deployed = http.post(
            "/flows",
            content=FLOW.format(ns=NS, tenant=tenant),
            headers={"content-type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        created = http.post(f"/executions/{NS}/hello")
        assert created.status_code == 200, created.text
        runs[tenant] = _until_ended(http, created.json()["id"])
    assert runs["alpha"]["id"] != runs["beta"]["id"]
    for tenant, http in clients.items():
        other = "beta" if tenant == "alpha" else "alpha"
        mine, theirs = runs[tenant]["id"], runs[other]["id"]
        assert runs[tenant]["state"]["current"] == "SUCCESS"
        assert http.get(f"/flows/{NS}/hello").json()["description"] == f"the flow of {tenant}"
        flows = wait_for(
            lambda h=http: (
                h.get("/flows/search", params={"namespace": NS}).json()["results"] or None
            ),
            10,
            "searchable flows",
        )
        assert [f["description"] for f in flows] == [f"the flow of {tenant}"]
        found = wait_for(
            lambda h=http: (
                h.get("/executions/search", params={"namespace": NS}).json()["results"] or None
            ),
            10,
            "searchable executions",
        )
        assert [e["id"] for e in found] == [mine]
        lines = wait_for(lambda h=http, m=mine: h.get(f"/logs/{m}").json() or None, 10, "logs")
        assert [line["message"] for line in lines] == [f"hello from {tenant}"]
        # The other tenant's execution id does not exist here, by any route.
        for path in (
            f"/executions/{theirs}",
            f"/executions/{theirs}/events",
            f"/logs/{theirs}",
            f"/executions/{theirs}/follow",
        ):
            assert http.get(path).status_code == 404, path
        assert http.post(f"/executions/{theirs}/kill").status_code == 404
        # Nor through the other tenant's paths, with this tenant's token.
        with tenancy.client(tenancy.tokens[f"{tenant}-writer"], other) as cross:
            for path in (
                f"/executions/{theirs}",
                f"/flows/{NS}/hello",
                f"/logs/{theirs}",
                "/flows/search",
                "/executions/search",
            ):
                response = cross.get(path)
                assert response.status_code == 404, (path, response.text)
        # The actor of what the API wrote is the token's name.
        events = http.get(f"/executions/{mine}/events").json()
        assert events[0]["actor"] == f"{tenant}-writer"
        revisions = http.get(f"/flows/{NS}/hello/revisions").json()
        assert revisions[-1]["actor"] == f"{tenant}-writer"
    # An admin token reaches both; the tenant-less path is the default tenant (alpha).
    with tenancy.client(tenancy.tokens["admin"]) as admin:
        assert admin.get(f"/executions/{runs['alpha']['id']}").status_code == 200
        assert admin.get(f"/executions/{runs['beta']['id']}").status_code == 404
    with tenancy.client(tenancy.tokens["admin"], "beta") as admin_beta:
        assert admin_beta.get(f"/executions/{runs['beta']['id']}").status_code == 200
    for http in clients.values():
        http.close()


def test_tokens_are_required_scoped_and_revocable(tenancy: Tenancy) -> None:
    with tenancy.client(None, "alpha") as anonymous:
        for path in (
            "/flows/search",
            "/executions/search",
            "/audit",
            "/metrics",
            f"/flows/{NS}/hello",
            "/stats/executions/daily",
        ):
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert list(response.json()) == ["message"]
        assert anonymous.post("/flows", content="x").status_code == 401
        assert anonymous.get("/health").status_code == 200
    assert httpx.get(f"{tenancy.url}/health").status_code == 200
    with tenancy.client("lnr_000000000000_forged", "alpha") as forged:
        assert forged.get("/flows/search").status_code == 401
    with tenancy.client(tenancy.tokens["alpha-reader"], "alpha") as reader:
        assert reader.get("/flows/search").status_code == 200
        refused = reader.post(
            "/flows",
            content=FLOW.format(ns="ro.ns", tenant="alpha"),
            headers={"content-type": "application/x-yaml"},
        )
        assert refused.status_code == 403, refused.text
        assert reader.delete(f"/flows/{NS}/hello").status_code == 403
    # Revocation: refused within one second of the TokenRevoked event.
    clear = tenancy.token("short-lived", "alpha")
    with tenancy.client(clear, "alpha") as http:
        assert http.get("/flows/search").status_code == 200
        revoke_token(tenancy.base, "short-lived")
        revoked_at = time.monotonic()
        while http.get("/flows/search").status_code != 401:
            assert time.monotonic() - revoked_at < 1.0, "a revoked token still accepted"
            time.sleep(0.02)


# --- secrets ---------------------------------------------------------------------------

SECRET_VALUE = {"alpha": "alpha-pw-7f3a9c1e55", "beta": "beta-pw-0b2d4f6a88"}
SECRET_FLOW = """\
id: uses_secret
namespace: {ns}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "the password is {{{{ secret('DB_PASSWORD') }}}}"
  - id: give
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ secret('DB_PASSWORD') }}}}"
"""
MISSING_FLOW = """\
id: missing_secret
namespace: {ns}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ secret('NOT_THERE') }}}}"
"""


def test_secrets_are_per_tenant_masked_everywhere_and_never_in_clear(tenancy: Tenancy) -> None:
    from projections import mappings
    from projections.store.client import SearchStore
    from streams.log.reader import read_all
    from streams.log.topics import tokens_topic

    ns = "secretive.team"
    clients = {t: tenancy.client(tenancy.tokens[f"{t}-writer"], t) for t in TENANTS}
    runs: dict[str, dict[str, Any]] = {}
    for tenant, http in clients.items():
        # Set on the parent namespace: the flow's namespace falls back to it.
        assert (
            http.put(
                "/namespaces/secretive/secrets/DB_PASSWORD", json={"value": SECRET_VALUE[tenant]}
            ).status_code
            == 204
        )
        assert [s["name"] for s in http.get("/namespaces/secretive/secrets").json()] == [
            "DB_PASSWORD"
        ]
        assert SECRET_VALUE[tenant] not in http.get("/namespaces/secretive/secrets").text
        deployed = http.post(
            "/flows",
            content=SECRET_FLOW.format(ns=ns),
            headers={"content-type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        runs[tenant] = _until_ended(http, http.post(f"/executions/{ns}/uses_secret").json()["id"])
    with tenancy.client(tenancy.tokens["alpha-writer"], "beta") as cross:
        assert cross.get("/namespaces/secretive/secrets").status_code == 404
    with tenancy.client(tenancy.tokens["alpha-reader"], "alpha") as reader:
        assert reader.put("/namespaces/secretive/secrets/X", json={"value": "v"}).status_code == 403
    for tenant, http in clients.items():
        run = runs[tenant]
        assert run["state"]["current"] == "SUCCESS", run
        assert run["taskRunList"][1]["outputs"] == {"value": "******"}
        lines = wait_for(lambda h=http, r=run: h.get(f"/logs/{r['id']}").json() or None, 10, "logs")
        assert [line["message"] for line in lines] == ["the password is ******"]
        events = http.get(f"/executions/{run['id']}/events").text
        assert "******" in events
        store = SearchStore(
            tenancy.base.elasticsearch_url, tenancy.settings(tenant).full_index_prefix
        )
        store.refresh(mappings.LOGS)
        _total, docs = store.search(mappings.LOGS, {"term": {"executionId": run["id"]}})
        assert [d["message"] for d in docs] == ["the password is ******"]
        store.close()
    # A secret that does not exist fails that task run, naming it; the executor carries on.
    http = clients["alpha"]
    http.post(
        "/flows", content=MISSING_FLOW.format(ns=ns), headers={"content-type": "application/x-yaml"}
    )
    failed = _until_ended(http, http.post(f"/executions/{ns}/missing_secret").json()["id"])
    assert failed["state"]["current"] == "FAILED"
    assert "NOT_THERE" in str(failed["taskRunList"][0].get("error") or failed)
    again = _until_ended(http, http.post(f"/executions/{ns}/uses_secret").json()["id"])
    assert again["state"]["current"] == "SUCCESS"
    # Delete: gone from the list.
    assert http.delete("/namespaces/secretive/secrets/DB_PASSWORD").status_code == 204
    assert http.get("/namespaces/secretive/secrets").json() == []
    assert http.delete("/namespaces/secretive/secrets/DB_PASSWORD").status_code == 404
    # No topic of either tenant, nor the tokens topic, holds a value or a token in clear.
    import base64

    forbidden = [v.encode() for v in SECRET_VALUE.values()]
    forbidden += [base64.b64encode(v.encode()) for v in SECRET_VALUE.values()]
    forbidden += [t.encode() for t in tenancy.tokens.values()]
    topics = [tokens_topic(tenancy.base.system_topic_prefix)]
    for tenant in TENANTS:
        topics += Topics(tenancy.settings(tenant).full_topic_prefix).all()
    scanned = 0
    for topic in topics:
        for record in read_all(tenancy.base.kafka_bootstrap, topic):
            scanned += 1
            for raw in forbidden:
                assert raw not in record.value, topic
    assert scanned > 20
    for http in clients.values():
        http.close()


# --- the command line ------------------------------------------------------------------


def test_cli_flow_sync_export_plugins_namespaces_and_secrets(
    tenancy: Tenancy, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    runner = CliRunner()
    ns = "synced.flows"

    def lanner(
        *args: str, tenant: str = "beta", token: str = "beta-writer", stdin: str | None = None
    ) -> Any:
        env = {
            "LANNER_URL": tenancy.env["LANNER_URL"],
            "LANNER_TOKEN": tenancy.tokens[token],
            "LANNER_TENANT_ID": tenant,
        }
        return runner.invoke(app, list(args), env=env, input=stdin)

    source = tmp_path / "source"
    source.mkdir()
    for flow_id in ("one", "two"):
        (source / f"{flow_id}.yml").write_text(
            f"id: {flow_id}\nnamespace: {ns}\ntasks:\n  - id: t\n"
            f"    type: io.kestra.plugin.core.log.Log\n    message: {flow_id}\n"
        )
    planned = lanner("flow", "sync", ns, str(source), "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert planned.output.count("create") >= 2
    assert (
        lanner("flow", "export", ns, str(tmp_path / "none")).exit_code == 0
    )  # nothing deployed by a dry run
    assert list((tmp_path / "none").iterdir()) == []
    applied = lanner("flow", "sync", ns, str(source))
    assert applied.exit_code == 0, applied.output
    exported = tmp_path / "exported"
    # The flows search refreshes once a second (the deploys are read-your-writes by id).
    wait_for(
        lambda: (
            (
                lanner("flow", "export", ns, str(exported)).exit_code == 0
                and len(list(exported.iterdir())) == 2
            )
            or None
        ),
        10,
        "exported flows",
    )
    assert sorted(p.name for p in exported.iterdir()) == ["one.yml", "two.yml"]
    for path in exported.iterdir():
        assert path.read_text() == (source / path.name).read_text()
    # Round trip: the export syncs back as unchanged; --delete removes what has no file.
    (exported / "two.yml").unlink()
    again = lanner("flow", "sync", ns, str(exported), "--delete")
    assert again.exit_code == 0, again.output
    assert "1 unchanged" in again.output and "1 delete" in again.output, again.output
    attempts = iter(range(1000))

    def export_once() -> Path | None:
        # A fresh folder each time: export writes files, it does not remove old ones.
        target = tmp_path / f"final{next(attempts)}"
        done = lanner("flow", "export", ns, str(target)).exit_code == 0
        return target if done and len(list(target.iterdir())) == 1 else None

    final = wait_for(export_once, 10, "export after sync --delete")
    assert sorted(p.name for p in final.iterdir()) == ["one.yml"]
    # The other tenant has none of it.
    other = tmp_path / "other"
    assert (
        lanner("flow", "export", ns, str(other), tenant="alpha", token="alpha-writer").exit_code
        == 0
    )
    assert list(other.iterdir()) == []
    assert (
        lanner("--tenant", "alpha", "flow", "delete", ns, "one", token="alpha-writer").exit_code
        == 1
    )
    namespaces = lanner("namespace", "list")
    assert namespaces.exit_code == 0, namespaces.output
    assert {"company", "company.team", "synced", "synced.flows"} <= set(namespaces.output.split())
    # Its last flow deleted, a namespace is gone from the list at once (read-your-writes).
    assert lanner("flow", "delete", ns, "one").exit_code == 0
    namespaces = lanner("namespace", "list")
    assert namespaces.exit_code == 0, namespaces.output
    assert {"company", "company.team"} <= set(namespaces.output.split())
    assert "synced.flows" not in namespaces.output.split()
    # Secrets through the CLI, value on stdin; list shows names only.
    assert lanner("secret", "set", "cli.ns", "API_KEY", stdin="s3cr3t-cli-value\n").exit_code == 0
    listed = lanner("secret", "list", "cli.ns")
    assert listed.output.split() == ["API_KEY"]
    assert (
        lanner("secret", "list", "cli.ns", tenant="alpha", token="alpha-writer").output.split()
        == []
    )
    assert lanner("secret", "delete", "cli.ns", "API_KEY").exit_code == 0
    # Refusals and unreachable servers have their exit codes.
    assert lanner("secret", "set", "cli.ns", "X", token="beta-reader", stdin="v").exit_code == 1
    unreachable = runner.invoke(
        app,
        ["namespace", "list"],
        env={"LANNER_URL": "http://127.0.0.1:9", "LANNER_TENANT_ID": "beta"},
    )
    assert unreachable.exit_code == 3
    bad = runner.invoke(app, ["--tenant", "No/Way", "namespace", "list"])
    assert bad.exit_code == 2 and "not safe" in bad.output
    # Plugins come from the registry and the task models.
    listed_plugins = lanner("plugins", "list", "--json")
    assert "log.Log" in listed_plugins.output
    doc = lanner("plugins", "doc", "io.kestra.plugin.core.log.Log", "--json")
    props = {p["name"]: p for p in __import__("json").loads(doc.output)["properties"]}
    assert props["level"]["default"] == "INFO" and props["message"]["required"]
