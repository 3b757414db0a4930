"""The concurrency gate's agent: one table row per limited flow (key = flow uid)."""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas.concurrency import GateRequest, GateState
from schemas.settings import LannerSettings
from streams.app.changelog_writes import ChangelogWrites
from streams.app.consumed_positions import ConsumedPositions
from streams.app.decoding import decode_or_log
from streams.app.faust_app import raw_topic
from streams.gate.decide import gate
from streams.log.topics import Topics

log = logging.getLogger("lanner.gate")


class Gate:
    def __init__(
        self, app: faust.App, settings: LannerSettings, positions: ConsumedPositions
    ) -> None:
        self.positions = positions
        topics = Topics(settings.full_topic_prefix)
        self.requests = raw_topic(app, topics.concurrency)
        self.commands = raw_topic(app, topics.commands)
        self.table = app.Table(
            "concurrency-gates",
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
        )
        self.state_writes = ChangelogWrites(self.table)
        app.agent(self.requests, name="gate")(self._agent)

    async def _agent(self, stream: Any) -> None:
        async for event in self.positions.events(stream):
            await self._apply(event)

    async def _apply(self, event: Any) -> None:
        request = decode_or_log(event, GateRequest.model_validate_json, "gate request", log)
        if request is None:
            return
        key = request.flow_uid.encode()
        stored = self.table.get(key)
        state = GateState.model_validate_json(stored) if stored else None
        new_state, replies = gate(state, request)
        if new_state != state:
            self.table[key] = new_state.model_dump_json().encode()
        sends = [
            await self.commands.send(
                key=reply.execution_id.encode(), value=reply.model_dump_json().encode()
            )
            for reply in replies
        ]
        # A reply lost with the producer's buffer would leave its execution queued forever,
        # and a state lost with it would miscount the running executions: the request is
        # read again until the broker has both.
        state_written = await self.state_writes.flush()
        self.positions.hold_until_sent([*sends, *([state_written] if state_written else [])])
