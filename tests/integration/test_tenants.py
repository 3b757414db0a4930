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
from typing import Any

import httpx
import pytest
import uvicorn

from api.access.admin import create_token, revoke_token
from schemas.settings import LannerSettings
from streams.app.run import ensure_lanner_topics
from streams.log.admin import wait_group_consuming
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
def tenancy(kafka_broker: KafkaBroker, es_node: ElasticsearchNode,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenancy]:
    prefix = f"t{secrets.token_hex(4)}"
    (api_port,) = free_ports(1)
    work = tmp_path_factory.mktemp("tenants")
    base = LannerSettings(
        tenant_id=TENANTS[0], kafka_bootstrap=kafka_broker.bootstrap,
        elasticsearch_url=es_node.url, topic_prefix=f"{prefix}.", index_prefix=prefix,
        partitions=2, worker_threads=2, scheduler_enabled=False, api_port=api_port,
        data_dir=str(work / "data"), read_your_writes_timeout_s=5.0, auth=True,
        secret_key="the key of this test installation",
    )
    env = {
        **os.environ, "PYTHONPATH": str(REPO),
        "LANNER_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "LANNER_ELASTICSEARCH_URL": es_node.url,
        "LANNER_TOPIC_PREFIX": f"{prefix}.", "LANNER_INDEX_PREFIX": prefix,
        "LANNER_PARTITIONS": "2", "LANNER_WORKER_THREADS": "2",
        "LANNER_DATA_DIR": str(work / "data"), "LANNER_SCHEDULER_ENABLED": "false",
        "LANNER_LOG_LEVEL": "WARNING", "LANNER_SECRET_KEY": "the key of this test installation",
    }
    procs: list[tuple[Any, str]] = []
    for tenant in TENANTS:
        ensure_lanner_topics(base.for_tenant(tenant))
        tenant_env = {**env, "LANNER_TENANT_ID": tenant}
        log_dir = work / tenant
        log_dir.mkdir()
        procs += [(_spawn(role, tenant_env, log_dir), f"{tenant} {role}")
                  for role in ("executor", "worker")]
    for tenant in TENANTS:
        settings = base.for_tenant(tenant)
        topics = Topics(settings.full_topic_prefix)
        for role, topic in (("executor", topics.commands), ("worker", topics.worker_jobs)):
            wait_group_consuming(kafka_broker.bootstrap, f"{settings.full_topic_prefix}{role}",
                                 topic, 120)
    indexers = [InProcessIndexer(base.for_tenant(t)).start() for t in TENANTS]
    from api.web.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(base), host="127.0.0.1", port=api_port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, "the API to start")
    found = Tenancy(base, f"http://127.0.0.1:{api_port}", {**env, "LANNER_URL":
                    f"http://127.0.0.1:{api_port}"}, indexers=indexers)
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
        return body if body.get("state", {}).get("current") in (
            "SUCCESS", "WARNING", "FAILED", "KILLED") else None
    return wait_for(probe, 30, f"execution {execution_id}")


def test_two_tenants_run_the_same_flow_and_see_only_their_own(tenancy: Tenancy) -> None:
    clients = {t: tenancy.client(tenancy.tokens[f"{t}-writer"], t) for t in TENANTS}
    runs: dict[str, dict[str, Any]] = {}
    for tenant, http in clients.items():
        deployed = http.post("/flows", content=FLOW.format(ns=NS, tenant=tenant),
                             headers={"content-type": "application/x-yaml"})
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
        flows = http.get("/flows/search", params={"namespace": NS}).json()["results"]
        assert [f["description"] for f in flows] == [f"the flow of {tenant}"]
        found = wait_for(lambda h=http: h.get("/executions/search", params={
            "namespace": NS}).json()["results"] or None, 10, "searchable executions")
        assert [e["id"] for e in found] == [mine]
        lines = wait_for(lambda h=http, m=mine: h.get(f"/logs/{m}").json() or None, 10, "logs")
        assert [line["message"] for line in lines] == [f"hello from {tenant}"]
        # The other tenant's execution id does not exist here, by any route.
        for path in (f"/executions/{theirs}", f"/executions/{theirs}/events",
                     f"/logs/{theirs}", f"/executions/{theirs}/follow"):
            assert http.get(path).status_code == 404, path
        assert http.post(f"/executions/{theirs}/kill").status_code == 404
        # Nor through the other tenant's paths, with this tenant's token.
        with tenancy.client(tenancy.tokens[f"{tenant}-writer"], other) as cross:
            for path in (f"/executions/{theirs}", f"/flows/{NS}/hello", f"/logs/{theirs}",
                         "/flows/search", "/executions/search"):
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
        for path in ("/flows/search", "/executions/search", "/audit", "/metrics",
                     f"/flows/{NS}/hello", "/stats/executions/daily"):
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
        refused = reader.post("/flows", content=FLOW.format(ns="ro.ns", tenant="alpha"),
                              headers={"content-type": "application/x-yaml"})
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
