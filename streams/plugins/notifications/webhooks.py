"""io.kestra.plugin.notifications.{slack,teams,discord}.*IncomingWebhook: one message to
a chat's incoming webhook (a local HTTP server in the tests)."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import Field

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.notifications.http import (
    NotificationError,
    RequestOptions,
    parse_json_payload,
    post_webhook,
)

KESTRA_NOTIFICATIONS = "io.kestra.plugin.notifications"


class _IncomingWebhook(WorkerTask):
    SERVICE: ClassVar[str] = "webhook"
    # Whether the payload is sent as the JSON it parses to (Slack, Discord) or as the
    # text it is (Teams, as Kestra's TeamsIncomingWebhook does).
    PARSES_PAYLOAD: ClassVar[bool] = True

    url: str = Field(min_length=1)
    payload: str | dict[str, Any] | None = None
    options: RequestOptions = Field(default_factory=RequestOptions)

    def message(self) -> Any:
        """The JSON value to send; NotificationError when there is none or it is bad."""
        if self.payload is None:
            raise NotificationError("`payload` is required")
        if isinstance(self.payload, dict):
            return self.payload
        return parse_json_payload(self.payload, "payload")

    def body(self) -> bytes:
        if isinstance(self.payload, str) and not self.PARSES_PAYLOAD:
            return self.payload.encode()
        return json.dumps(self.message()).encode()

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            body = self.body()
            await post_webhook(ctx, self.url, body, self.options, self.SERVICE)
        except NotificationError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        return Outcome(State.SUCCESS)


def slack_mrkdwn(text: str) -> str:
    """Markdown's bold, italic and links in Slack's own spelling (as Kestra converts)."""
    text = re.sub(r"\*\*(.*?)\*\*", r"*\1*", text)
    text = re.sub(r"__(.*?)__", r"_\1_", text)
    return re.sub(r"\[(.*?)\]\((.*?)\)", r"<\2|\1>", text)


class SlackIncomingWebhook(_IncomingWebhook):
    """Sends a Slack message: `payload` (Slack's JSON), or `messageText`."""

    TYPE: ClassVar[str] = "notifications.slack.SlackIncomingWebhook"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_NOTIFICATIONS}.slack.SlackIncomingWebhook",
    )
    SERVICE: ClassVar[str] = "Slack"
    messageText: str | None = None

    def message(self) -> Any:
        if self.payload is None and self.messageText is not None:
            try:  # JSON first, as Kestra does; else text with markdown made Slack's
                return json.loads(self.messageText)
            except ValueError:
                return {"text": slack_mrkdwn(self.messageText)}
        if self.payload is None:
            raise NotificationError("either `messageText` or `payload` must be provided")
        return super().message()


class TeamsIncomingWebhook(_IncomingWebhook):
    """Sends a Microsoft Teams message (the payload as written)."""

    TYPE: ClassVar[str] = "notifications.teams.TeamsIncomingWebhook"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_NOTIFICATIONS}.teams.TeamsIncomingWebhook",
    )
    SERVICE: ClassVar[str] = "Teams"
    PARSES_PAYLOAD: ClassVar[bool] = False


class DiscordIncomingWebhook(_IncomingWebhook):
    """Sends a Discord message (Discord's JSON payload)."""

    TYPE: ClassVar[str] = "notifications.discord.DiscordIncomingWebhook"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_NOTIFICATIONS}.discord.DiscordIncomingWebhook",
    )
    SERVICE: ClassVar[str] = "Discord"
