"""io.kestra.plugin.notifications.slack.SlackExecution: a Slack message about an execution
(its flow, state, duration, first failed and final task), as Kestra's slack-template.

Meant for a flow triggered by another's end (a Flow trigger on FAILED): `executionId`
names that execution, read from the executions view; the view may trail the trigger by
a moment, so the task waits (bounded) until the execution it names has ended there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any, ClassVar

from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext
from streams.plugins.notifications.http import NotificationError, post_webhook
from streams.plugins.notifications.webhooks import KESTRA_NOTIFICATIONS, SlackIncomingWebhook

_WAIT_S = 15.0
_POLL_S = 0.25
_COLORS = {"SUCCESS": "good", "WARNING": "warning"}


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


def _duration_s(state: dict[str, Any]) -> float:
    start, end = state.get("startDate"), state.get("endDate")
    if not start:
        return 0.0
    begun = dt.datetime.fromisoformat(start)
    ended = dt.datetime.fromisoformat(end) if end else dt.datetime.now(dt.UTC)
    return max(0.0, (ended - begun).total_seconds())


class SlackExecution(SlackIncomingWebhook):
    TYPE: ClassVar[str] = "notifications.slack.SlackExecution"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_NOTIFICATIONS}.slack.SlackExecution",)

    executionId: str | None = None
    customFields: dict[str, Any] | None = None
    customMessage: str | None = None
    # Legacy webhooks only (as in Kestra): copied into the payload when given.
    channel: str | None = None
    username: str | None = None
    iconUrl: str | None = None
    iconEmoji: str | None = None

    async def _execution(self, ctx: WorkerContext, execution_id: str) -> dict[str, Any]:
        if ctx.views is None:
            raise NotificationError("this worker cannot read the executions view")
        current = execution_id == ctx.execution_id
        deadline = time.monotonic() + _WAIT_S
        while True:
            doc = await ctx.views.execution(ctx.tenant, execution_id)
            ended = doc is not None and State(doc["state"]["current"]).is_terminal
            if (current and doc is not None) or ended or time.monotonic() > deadline:
                break
            await asyncio.sleep(_POLL_S)
        if doc is None:
            raise NotificationError(f"execution {execution_id} was not found")
        return doc

    def execution_message(self, doc: dict[str, Any], current: bool) -> dict[str, Any]:
        state = doc["state"]["current"]
        runs = doc.get("taskRunList") or []
        if not current:  # as Kestra: the runs in the state the execution ended with
            wanted = "FAILED" if state == "FAILED" else "SUCCESS"
            runs = [r for r in runs if r.get("state", {}).get("current") == wanted]
        last = runs[-1] if runs else None
        failed = last if last and last.get("state", {}).get("current") == "FAILED" else None
        title = f"*[{doc['namespace']}] {doc['flowId']} ➛ {state}*"
        outcome = f"Failed on task `{failed['taskId']}`" if failed else "Succeeded"
        text = f"{title}\n> {outcome} after {human_duration(_duration_s(doc['state']))}"
        fields = [
            {"title": "Namespace", "value": doc["namespace"], "short": True},
            {"title": "Flow ID", "value": doc["flowId"], "short": True},
            {"title": "Execution ID", "value": doc["id"], "short": True},
            {"title": "Execution Status", "value": state, "short": True},
            *(
                {"title": k, "value": v, "short": True}
                for k, v in (self.customFields or {}).items()
            ),
            {
                "title": "Final task ID",
                "value": last.get("taskId") if last else None,
                "short": True,
            },
        ]
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if self.customMessage is not None:
            custom = {"type": "section", "text": {"type": "mrkdwn", "text": self.customMessage}}
            blocks.insert(0, custom)
        started = doc["state"].get("startDate")
        attachment: dict[str, Any] = {"color": _COLORS.get(state, "danger"), "fields": fields}
        if started:
            attachment["ts"] = int(dt.datetime.fromisoformat(started).timestamp())
        message: dict[str, Any] = {"text": text, "blocks": blocks, "attachments": [attachment]}
        legacy = {
            "channel": self.channel,
            "username": self.username,
            "icon_url": self.iconUrl,
            "icon_emoji": self.iconEmoji,
        }
        message.update({k: v for k, v in legacy.items() if v is not None})
        return message

    async def run(self, ctx: WorkerContext) -> Outcome:
        execution_id = self.executionId or ctx.execution_id
        try:
            doc = await self._execution(ctx, execution_id)
            message = self.execution_message(doc, execution_id == ctx.execution_id)
            body = json.dumps(message).encode()
            await post_webhook(ctx, self.url, body, self.options, self.SERVICE)
        except NotificationError as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        return Outcome(State.SUCCESS)
