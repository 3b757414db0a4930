"""Notification tasks on the real path (API -> Kafka -> Faust -> Elasticsearch), against
a local webhook server and a local SMTP server.

Kestra's two ways of alerting on failure, as its docs write them: an `errors` branch that
posts to Slack, and a separate flow started by a Flow trigger on FAILED that sends a
SlackExecution message and an email; that alert flow ends SUCCESS. Bad input: a webhook
answering 500 and a refused SMTP login fail the task run with the server's own reply
(a Discord post beside them goes through)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.notification_servers import (
    SmtpServer,
    WebhookServer,
    smtp_server,
    webhook_server,
)
from tests.integration.plugin_stack import plugin_stack
from tests.integration.stack import Stack, wait_for

pytestmark = pytest.mark.integration

NS = "it.notify"
# Outside NS: a failure here must not start the failure_alert flow.
QUIET = "it.refusals"


def unreliable_flow(hooks: WebhookServer) -> str:
    return f"""
id: unreliable_flow
namespace: {NS}
tasks:
  - id: fail
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - exit 1
errors:
  - id: alert_on_failure
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{hooks.url}/services/T0/B0/errors"
    payload: >-
      {{"text": "Failure alert for flow {{{{ flow.namespace }}}}.{{{{ flow.id }}}}
      with ID {{{{ execution.id }}}}"}}
"""


def failure_alert_flow(hooks: WebhookServer, smtp: SmtpServer) -> str:
    return f"""
id: failure_alert
namespace: {NS}.alerts
tasks:
  - id: send_alert
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "{hooks.url}/services/T0/B0/alerts"
    executionId: "{{{{ trigger.executionId }}}}"
    customMessage: "On-call, please look"
  - id: send_email
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: {smtp.port}
    transportStrategy: SMTP
    username: {smtp.username}
    password: {smtp.password}
    from: lanner@example.com
    to: oncall@example.com
    subject: >-
      Kestra workflow failed for the flow {{{{ trigger.flowId }}}}
      in the namespace {{{{ trigger.namespace }}}}
    htmlTextContent: >-
      Failure alert for flow {{{{ trigger.namespace }}}}.{{{{ trigger.flowId }}}}
      with ID {{{{ trigger.executionId }}}}
triggers:
  - id: failed_prod_workflows
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in:
          - FAILED
          - WARNING
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: {NS}
        comparison: PREFIX
"""


def refused_flow(hooks: WebhookServer, smtp: SmtpServer) -> str:
    return f"""
id: refused
namespace: {QUIET}
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: teams
        type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
        url: "{hooks.url}/broken"
        payload: '{{"text": "hello"}}'
      - id: discord
        type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook
        url: "{hooks.url}/discord"
        payload: '{{"username": "Kestra", "content": "{{{{ flow.id }}}} is running"}}'
      - id: mail
        type: io.kestra.plugin.notifications.mail.MailSend
        host: 127.0.0.1
        port: {smtp.port}
        transportStrategy: SMTP
        username: {smtp.username}
        password: not-the-password
        from: lanner@example.com
        to: oncall@example.com
        subject: never sent
"""


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    kafka_broker: KafkaBroker, es_node: ElasticsearchNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    # A scheduler for the Flow trigger (its join over execution-events).
    with plugin_stack(
        kafka_broker,
        es_node,
        tmp_path_factory.mktemp("notify"),
        roles=("executor", "worker", "scheduler"),
        extra_env={"LANNER_SCHEDULER_ENABLED": "true"},
    ) as the_stack:
        yield the_stack


def deploy(stack: Stack, source: str) -> None:
    """Deploys a flow; on a busy machine the API may answer before the view has it (202)."""
    response = stack.http.post(
        "/flows", content=source, headers={"content-type": "application/x-yaml"}
    )
    assert response.status_code in (200, 202), response.text


def _executions_of(stack: Stack, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    response = stack.http.get(
        "/executions/search", params={"namespace": namespace, "flowId": flow_id}
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_a_failure_alerts_through_errors_and_through_a_flow_trigger(
    stack: Stack, hooks: WebhookServer, smtp: SmtpServer
) -> None:
    deploy(stack, failure_alert_flow(hooks, smtp))
    deploy(stack, unreliable_flow(hooks))
    time.sleep(2)  # the scheduler's flow index follows flow-events
    failed = stack.until_ended(stack.run(NS, "unreliable_flow")["id"], 180)
    assert failed["state"]["current"] == "FAILED"
    runs = {r["taskId"]: r["state"]["current"] for r in failed["taskRunList"]}
    assert runs == {"fail": "FAILED", "alert_on_failure": "SUCCESS"}
    assert hooks.json_posts("/services/T0/B0/errors") == [
        {"text": f"Failure alert for flow {NS}.unreliable_flow with ID {failed['id']}"}
    ]

    def alert() -> dict[str, Any] | None:
        found = _executions_of(stack, f"{NS}.alerts", "failure_alert")
        ended = [e for e in found if e["state"]["current"] in ("SUCCESS", "FAILED", "WARNING")]
        return ended[0] if ended else None

    alerted = wait_for(alert, 180, "the failure_alert flow to run and end")
    assert alerted["state"]["current"] == "SUCCESS", alerted
    [message] = hooks.json_posts("/services/T0/B0/alerts")
    assert message["blocks"][0]["text"]["text"] == "On-call, please look"
    text = message["text"]
    assert text.startswith(f"*[{NS}] unreliable_flow ➛ FAILED*\n> Failed on task `fail` after ")
    fields = {f["title"]: f["value"] for f in message["attachments"][0]["fields"]}
    assert fields["Execution ID"] == failed["id"]
    assert fields["Execution Status"] == "FAILED"
    assert message["attachments"][0]["color"] == "danger"
    [(sender, recipients, email)] = smtp.messages
    assert (sender, recipients) == ("lanner@example.com", ["oncall@example.com"])
    assert email["Subject"] == (
        f"Kestra workflow failed for the flow unreliable_flow in the namespace {NS}"
    )


def test_a_webhook_500_and_a_refused_login_fail_with_the_servers_words(
    stack: Stack, hooks: WebhookServer, smtp: SmtpServer
) -> None:
    hooks.answers["/broken"] = (500, "Webhook message delivery failed with error: Internal")
    deploy(stack, refused_flow(hooks, smtp))
    before = len(smtp.messages)
    execution = stack.until_ended(stack.run(QUIET, "refused")["id"], 180)
    assert execution["state"]["current"] == "FAILED"

    def errors() -> dict[str, str] | None:
        response = stack.http.get(f"/logs/{execution['id']}", params={"minLevel": "ERROR"})
        assert response.status_code == 200, response.text
        found = {line["taskId"]: line["message"] for line in response.json()}
        return found if {"teams", "mail"} <= set(found) else None

    found = wait_for(errors, 30, "the error lines")
    port = hooks.url.rsplit(":", 1)[1]
    assert found["teams"] == (
        f"task teams: Teams webhook at 127.0.0.1:{port} answered 500: "
        "Webhook message delivery failed with error: Internal"
    )
    assert found["mail"] == (
        f"task mail: SMTP server 127.0.0.1:{smtp.port} refused the login: "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert len(smtp.messages) == before
    states = {r["taskId"]: r["state"]["current"] for r in execution["taskRunList"]}
    assert states["discord"] == "SUCCESS"  # a sibling's failure does not undo its post
    assert hooks.json_posts("/discord") == [{"username": "Kestra", "content": "refused is running"}]
