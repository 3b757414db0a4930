"""Notification tasks against a local HTTP server and a local SMTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.states import State
from streams.plugins.notifications import (
    DiscordIncomingWebhook,
    MailSend,
    SlackIncomingWebhook,
    TeamsIncomingWebhook,
)
from tests.harness.notification_servers import smtp_server, webhook_server
from tests.unit.test_tasks_helpers import Recorder, make_ctx

N = "io.kestra.plugin.notifications"


async def test_slack_teams_and_discord_post_their_payloads(tmp_path: Path) -> None:
    with webhook_server() as hooks:
        slack = SlackIncomingWebhook.model_validate(
            {
                "id": "s",
                "type": f"{N}.slack.SlackIncomingWebhook",
                "url": f"{hooks.url}/services/T/B/x",
                "payload": '{"text": "Failure alert for flow company.team.etl"}',
                "options": {"headers": {"X-Trace": "1"}},
            }
        )
        markdown = SlackIncomingWebhook.model_validate(
            {
                "id": "m",
                "type": f"{N}.slack.SlackIncomingWebhook",
                "url": f"{hooks.url}/md",
                "messageText": "**bold** and [docs](https://kestra.io)",
            }
        )
        teams = TeamsIncomingWebhook.model_validate(
            {
                "id": "t",
                "type": f"{N}.teams.TeamsIncomingWebhook",
                "url": f"{hooks.url}/teams",
                "payload": '{"@type": "MessageCard", "text": "done"}',
            }
        )
        discord = DiscordIncomingWebhook.model_validate(
            {
                "id": "d",
                "type": f"{N}.discord.DiscordIncomingWebhook",
                "url": f"{hooks.url}/discord",
                "payload": '{"username": "Kestra", "content": "done"}',
            }
        )
        for task in (slack, markdown, teams, discord):
            outcome = await task.run(make_ctx(tmp_path, Recorder()))
            assert outcome.state == State.SUCCESS, outcome.error
        assert hooks.json_posts("/services/T/B/x") == [
            {"text": "Failure alert for flow company.team.etl"}
        ]
        assert hooks.json_posts("/md") == [{"text": "*bold* and <https://kestra.io|docs>"}]
        assert hooks.json_posts("/teams") == [{"@type": "MessageCard", "text": "done"}]
        assert hooks.json_posts("/discord") == [{"username": "Kestra", "content": "done"}]
        headers = hooks.posts[0][1]
        assert headers["Content-Type"] == "application/json" and headers["X-Trace"] == "1"


async def test_a_webhook_answering_500_fails_with_the_servers_message(tmp_path: Path) -> None:
    with webhook_server() as hooks:
        hooks.answers["/services/T/B/x"] = (500, "invalid_token: the webhook was revoked")
        task = SlackIncomingWebhook.model_validate(
            {
                "id": "alert",
                "type": f"{N}.slack.SlackIncomingWebhook",
                "url": f"{hooks.url}/services/T/B/x",
                "payload": '{"text": "hi"}',
            }
        )
        outcome = await task.run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    port = hooks.url.rsplit(":", 1)[1]
    assert outcome.error == (
        f"task alert: Slack webhook at 127.0.0.1:{port} answered 500: "
        "invalid_token: the webhook was revoked"
    )
    assert "/services/T/B/x" not in (outcome.error or "")  # the URL is the credential


async def test_bad_payloads_and_unreachable_webhooks_fail_saying_why(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"payload": "{not json"}, "task w: payload is not valid JSON: Expecting"),
        ({}, "task w: either `messageText` or `payload` must be provided"),
        (
            {"url": "http://127.0.0.1:9/x", "payload": "{}"},
            "task w: Slack webhook at 127.0.0.1:9 failed: ",
        ),
    ]
    for props, expected in cases:
        task = SlackIncomingWebhook.model_validate(
            {"id": "w", "type": f"{N}.slack.SlackIncomingWebhook", "url": "http://127.0.0.1:9/x"}
            | props
        )
        outcome = await task.run(make_ctx(tmp_path, Recorder()))
        assert outcome.state == State.FAILED
        assert (outcome.error or "").startswith(expected), outcome.error


def _mail(port: int, **props: Any) -> MailSend:
    return MailSend.model_validate(
        {
            "id": "mail",
            "type": f"{N}.mail.MailSend",
            "host": "127.0.0.1",
            "port": port,
            "transportStrategy": "SMTP",
            "username": "robot",
            "password": "s3cret",
            "from": "lanner@example.com",
            "to": "ops@example.com; oncall@example.com",
            "subject": "Flow failed",
            "htmlTextContent": "<p>The flow <b>etl</b> failed</p>",
            **props,
        }
    )


async def test_mail_send_delivers_html_text_and_an_attachment(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, Recorder())
    assert ctx.storage is not None
    uri = ctx.storage.put_bytes("kestra://main/company/team/flow1/report.csv", b"a,b\n1,2\n")
    with smtp_server() as smtp:
        task = _mail(
            smtp.port,
            cc="boss@example.com",
            attachments=[{"uri": uri, "name": "report.csv", "contentType": "text/csv"}],
        )
        outcome = await task.run(ctx)
        assert outcome.state == State.SUCCESS, outcome.error
        [(sender, recipients, message)] = smtp.messages
    assert sender == "lanner@example.com"
    assert recipients == ["ops@example.com", "oncall@example.com", "boss@example.com"]
    assert message["Subject"] == "Flow failed"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "<b>etl</b>" in parts["text/html"].get_payload(decode=True).decode()
    plain = parts["text/plain"].get_payload(decode=True).decode()
    assert "Please view this email in a modern email client" in plain
    assert parts["text/csv"].get_filename() == "report.csv"
    assert parts["text/csv"].get_payload(decode=True) == b"a,b\n1,2\n"


async def test_a_refused_smtp_login_fails_with_the_servers_reply(tmp_path: Path) -> None:
    with smtp_server() as smtp:
        outcome = await _mail(smtp.port, password="wrong").run(make_ctx(tmp_path, Recorder()))
        assert smtp.messages == []
    assert outcome.state == State.FAILED
    assert outcome.error == (
        f"task mail: SMTP server 127.0.0.1:{smtp.port} refused the login: "
        "535 5.7.8 Authentication credentials invalid"
    )


async def test_no_smtp_server_and_bad_addresses_fail_saying_why(tmp_path: Path) -> None:
    outcome = await _mail(9).run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    assert (outcome.error or "").startswith("task mail: could not talk to SMTP server 127.0.0.1:9")
    outcome = await _mail(9, to="nobody").run(make_ctx(tmp_path, Recorder()))
    assert outcome.error == "task mail: `to` has no valid email address: 'nobody'"
