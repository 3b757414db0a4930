"""Notifications (Slack, Teams, Discord incoming webhooks; email over SMTP), registered
under the `lanner.plugins` entry point `notifications`."""

from streams.plugins.base import Task
from streams.plugins.notifications.mail import MailSend
from streams.plugins.notifications.slack_execution import SlackExecution
from streams.plugins.notifications.webhooks import (
    DiscordIncomingWebhook,
    SlackIncomingWebhook,
    TeamsIncomingWebhook,
)

PLUGINS: list[type[Task]] = [
    SlackIncomingWebhook,
    SlackExecution,
    TeamsIncomingWebhook,
    DiscordIncomingWebhook,
    MailSend,
]
