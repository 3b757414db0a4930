"""The web UI with authentication on, in headless Chromium against a real API (Kafka
broker, Elasticsearch, tokens on their topic): a page that needs the API sends the user to
the login page, a wrong token is refused with the API's message, the right one (a tenant's
token, its tenant typed in) opens the page, and every request then carries it: a KV value
set through the UI is read back through the API with the same token."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.access.admin import create_token
from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics
from tests.harness.chromium import headless_chromium
from tests.harness.common import free_ports
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.stack import REPO, InProcessIndexer, wait_for

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "test-artifacts" / "ui"
TENANT = "acme"


@pytest.fixture(scope="module")
def api_with_auth(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(the API's URL, a token of tenant acme)."""
    subprocess.run([sys.executable, str(REPO / "ui" / "build.py")], cwd=REPO, check=True)
    prefix = f"t{secrets.token_hex(4)}"
    (port,) = free_ports(1)
    work: Path = tmp_path_factory.mktemp("ui-login")
    settings = LannerSettings(
        auth=True,
        kafka_bootstrap=kafka_broker.bootstrap,
        elasticsearch_url=es_node.url,
        topic_prefix=f"{prefix}.",
        index_prefix=prefix,
        partitions=1,
        scheduler_enabled=False,
        api_port=port,
        data_dir=str(work / "data"),
    )
    for tenant in (settings.tenant_id, TENANT):
        ensure_lanner_topics(settings.for_tenant(tenant))
    token, _record = create_token(settings, "ui-tester", TENANT, False)
    # The tenant's views (its indices) exist once its indexer runs.
    indexer = InProcessIndexer(settings.for_tenant(TENANT)).start()
    from api.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 90, "the API to start")
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        indexer.stop()


def test_login_with_a_token_and_every_request_carries_it(api_with_auth: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    url, token = api_with_auth
    with headless_chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(url + "/ui/namespaces/team.a")
        page.wait_for_url(re.compile(r"/ui/login\?next=(%2F|/)namespaces(%2F|/)team\.a$"))
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()

        page.get_by_label("API token").fill("not-a-token")
        page.get_by_label("Tenant").fill(TENANT)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("error")).to_contain_text("invalid")

        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/ui/namespaces/team.a")
        expect(page.locator("header")).to_contain_text(f"tenant {TENANT}")
        page.get_by_label("New key").fill("greeting")
        page.get_by_label("New value").fill('"hello"')
        page.get_by_role("button", name="Set").first.click()
        expect(page.locator("main")).to_contain_text("greeting")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "20-logged-in-kv.png"), full_page=True)
        print(f"screenshot: {ARTIFACTS / '20-logged-in-kv.png'}")

    answer = httpx.get(
        f"{url}/api/v1/{TENANT}/namespaces/team.a/kv/greeting",
        headers={"authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == "hello"
    refused = httpx.get(f"{url}/api/v1/{TENANT}/namespaces/team.a/kv/greeting")
    assert refused.status_code == 401
