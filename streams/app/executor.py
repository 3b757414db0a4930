"""The executor role: a Faust agent over `commands` and `worker-results`.

Per input: look the execution up in the changelog-backed table, run the pure
`handle`, store the new record, then write the events and what they imply (worker jobs,
commands to other executions, log lines). All I/O of the executor is in this file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from typing import Any

import faust
from pydantic import BaseModel

from schemas.commands import (
    EXECUTOR_MESSAGE_ADAPTER,
    CreateExecution,
    ExecutorMessage,
    ForgetExecution,
)
from schemas.settings import LannerSettings
from schemas.worker import TaskRunReport
from streams.app.changelog_writes import ChangelogWrites
from streams.app.codecs import RECORD_CODEC
from streams.app.consumed_positions import ConsumedPositions
from streams.app.decoding import decode_or_log
from streams.app.faust_app import kafka_producer, raw_topic
from streams.app.outbox import Outbox
from streams.app.record_table import RecordTable
from streams.app.watch import TimerIndex, WorkerHealth
from streams.core.bounds import Bounds
from streams.core.effects import Effects, StopJob, effects_of
from streams.core.forget import forget_at, forget_command, may_forget
from streams.core.handle import ExecutorRecord, Handled, handle, taken_up
from streams.core.record_parts import is_head_key
from streams.core.validation import UnrunnableFlow, ValidatedFlow, flow_from_source
from streams.flow_catalog import LiveFlowCatalog
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

log = logging.getLogger("lanner.executor")

# How long the executor waits for its flow catalog to show a revision an input names
# before it asks whether the catalog has caught up with the log (then waits again, or
# knows the revision is missing).
CATALOG_WAIT_S = 10.0
# Workers beat every 2 s (streams/app/worker.py); three missed beats and a margin.
WORKER_LOST_AFTER = dt.timedelta(seconds=8)
MAX_STATE_BYTES = 8 * 1024 * 1024


class Executor:
    def __init__(
        self,
        app: faust.App,
        settings: LannerSettings,
        catalog: LiveFlowCatalog,
        registry: PluginRegistry,
        positions: ConsumedPositions,
    ) -> None:
        self.app = app
        self.positions = positions
        self.settings = settings
        self.catalog = catalog
        self.registry = registry
        # The flow author's limits; the monotonic clock is the render's wall-clock
        # backstop (LANNER_LIMITS_RENDER_SECONDS), read only every thousand render steps.
        self.bounds = Bounds(settings.limits, clock=time.monotonic)
        topics = Topics(settings.full_topic_prefix)
        self.messages = raw_topic(app, topics.commands, topics.worker_results)
        self.events_topic = raw_topic(app, topics.execution_events)
        self.jobs_topic = raw_topic(app, topics.worker_jobs)
        self.commands_topic = raw_topic(app, topics.commands)
        self.logs_topic = raw_topic(app, topics.logs)
        self.table = app.Table(
            "executions",
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            store=_store_url(settings, "executions"),
            # A large execution's record can pass Kafka's 1 MB default.
            extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
        )
        # Faust derives serializers from types only; the record codec keeps values as
        # objects in memory and JSON on the changelog. Set before the store is created.
        self.table.value_serializer = RECORD_CODEC  # type: ignore[attr-defined]
        self.record_writes = ChangelogWrites(self.table)
        self.records = RecordTable(self.table)
        self.outbox = Outbox(lambda: kafka_producer(app))
        app.task(self.outbox.run)
        self.control_topic = raw_topic(app, topics.worker_control)
        self.gate_topic = raw_topic(app, topics.concurrency)
        self.retain = dt.timedelta(seconds=settings.executor_retain_finished_s)
        self.timers = TimerIndex()
        self.health = WorkerHealth(lost_after=WORKER_LOST_AFTER)
        self._sources: dict[int, ValidatedFlow | UnrunnableFlow] = {}
        app.agent(self.messages, name="executor")(self._agent)
        app.timer(interval=0.25)(self._fire_timers)
        app.timer(interval=1.0)(self._check_workers)
        # mode types its handlers with mypy_extensions arguments no method can match.
        app.on_rebalance_complete.connect(self._rescan)  # type: ignore[arg-type]
        app.on_partitions_revoked.connect(self._partitions_revoked)  # type: ignore[arg-type]

    async def _agent(self, stream: Any) -> None:
        async for event in self.positions.events(stream):
            await self._apply(event)

    async def _apply(self, event: Any) -> None:
        message = event.message
        inp = decode_or_log(event, EXECUTOR_MESSAGE_ADAPTER.validate_json, "executor message", log)
        if inp is None:
            return
        try:
            await self._process(inp)
        except Exception:
            # Skipping is safer than stopping the agent: a stopped agent halts every
            # execution on its partitions. Decisions themselves never raise (handle).
            log.exception(
                "message could not be processed",
                extra={
                    "execution_id": inp.execution_id,
                    "message_id": inp.message_id,
                    "partition": message.partition,
                    "offset": message.offset,
                },
            )

    async def _process(self, inp: ExecutorMessage) -> None:
        if isinstance(inp, TaskRunReport) and inp.kind == "heartbeat":
            # Heartbeats feed the health loop only: no decision, no table write.
            self.health.heartbeat(inp.task_run_id, inp.attempt, inp.worker_id, _now())
            return
        arrived = _now()
        if not is_head_key(inp.execution_id):
            log.warning(
                "input dropped: its execution id holds a character reserved for table keys",
                extra={"execution_id": repr(inp.execution_id), "message_id": inp.message_id},
            )
            return
        stored = self.records.get(inp.execution_id)
        if isinstance(inp, ForgetExecution):
            await self._forget(stored, inp, arrived)
            return
        record = taken_up(stored, inp)
        flow = await self._flow_for(inp, record)
        started = time.monotonic()
        result = handle(
            record,
            flow,
            inp,
            self.catalog,
            bounds=self.bounds,
            now=decision_time(record, arrived),
            memo=self.records.memo(inp.execution_id),
        )
        spent = time.monotonic() - started
        if result.failure is not None:
            log.error(
                "decision failed",
                exc_info=result.failure,
                extra={"execution_id": inp.execution_id, "message_id": inp.message_id},
            )
        if spent > self.settings.limits.render_seconds:
            # Everything else on this partition waited that long (issue 19 makes steps O(1)).
            log.warning(
                "slow decision",
                extra={
                    "execution_id": inp.execution_id,
                    "message_id": inp.message_id,
                    "seconds": round(spent, 3),
                    "events": len(result.events),
                },
            )
        record_written = None
        if not result.redelivered:
            # Only what this input changed goes to the changelog (streams/core/record_parts.py).
            self.records.put(inp.execution_id, stored, result.record, result.events)
            # The record remembers the input and the events it caused, times included:
            # the outbox sends those events only once it is on the log, so a crash cannot
            # leave events on the log that the restored table does not know (the input
            # would be decided again, at a later time, and its events would differ).
            record_written = await self.record_writes.flush()
            self._plan_forget(inp.execution_id, result.record)
        elif result.events:
            log.info(
                "re-emitting the events of an input seen before",
                extra={"execution_id": inp.execution_id, "message_id": inp.message_id},
            )
        if not result.events:
            return
        state = result.record.execution
        assert state is not None
        effects = effects_of(state, result.events)
        sent = await self.outbox.put(record_written, self._outputs(result, effects))
        # Until the broker has them all, a crash must find this input unread.
        self.positions.hold_until_sent([sent])
        self.timers.add(effects.timers)
        for command in effects.delayed:
            self.timers.add_command(state.id, command, command.time)
        self.health.observe(result.events, state, _now())
        if state.state.is_terminal:
            self.timers.forget(inp.execution_id)
            self.records.drop_memo(inp.execution_id)  # learnt again if it is restarted

    def _plan_forget(self, execution_id: str, record: ExecutorRecord) -> None:
        due = forget_at(record, self.retain)
        if due is not None:
            self.timers.add_command(execution_id, forget_command(execution_id, due), due)

    async def _forget(
        self, record: ExecutorRecord | None, inp: ForgetExecution, now: dt.datetime
    ) -> None:
        """A finished execution leaves the table (tombstones on its changelog), unless it
        moved again since the command was planned (a restart: planned again at its end)."""
        if record is None or not may_forget(record, now, self.retain):
            return
        self.records.delete(inp.execution_id)
        written = await self.record_writes.flush()
        if written is not None:
            # Until the broker has the tombstone, a crash must find this command unread
            # (a restored record would be planned for forgetting again anyway).
            self.positions.hold_until_sent([written])
        if record.execution is None:
            log.warning(
                "inputs dropped: their execution was never created here, or was forgotten",
                extra={
                    "execution_id": inp.execution_id,
                    "inputs": [early.message_id for early in record.early],
                },
            )
        else:
            log.debug("finished execution forgotten", extra={"execution_id": inp.execution_id})

    def _outputs(
        self, result: Handled, effects: Effects
    ) -> list[tuple[faust.TopicT, bytes, bytes]]:
        """What the input's decision writes, in order: its events first."""
        key = result.record.execution.id.encode() if result.record.execution else b""
        return [
            *((self.events_topic, key, ev.model_dump_json().encode()) for ev in result.events),
            *((self.jobs_topic, job.task_run_id.encode(), _json(job)) for job in effects.jobs),
            *(
                (self.commands_topic, cmd.execution_id.encode(), _json(cmd))
                for cmd in effects.commands
            ),
            *((self.logs_topic, key, _json(line)) for line in effects.logs),
            *((self.gate_topic, req.flow_uid.encode(), _json(req)) for req in effects.gate),
            *(
                (self.control_topic, stop.task_run_id.encode(), _stop_request(stop))
                for stop in effects.stops
            ),
        ]

    async def _flow_for(
        self, inp: ExecutorMessage, record: ExecutorRecord | None
    ) -> ValidatedFlow | UnrunnableFlow | None:
        state = record.execution if record else None
        if isinstance(inp, CreateExecution) and state is None:
            ref = inp.flow
            if inp.flow_source is not None:
                return self._from_source(inp.flow_source, ref.revision)
            tenant, namespace, flow_id, revision = (
                ref.tenant,
                ref.namespace,
                ref.flow_id,
                ref.revision,
            )
        elif state is not None:
            tenant, namespace, flow_id = state.tenant, state.namespace, state.flow_id
            revision = state.flow_revision
        else:
            return None
        found = self.catalog.get(tenant, namespace, flow_id, revision)
        if found is None and await asyncio.to_thread(
            self.catalog.wait_for, tenant, namespace, flow_id, revision, CATALOG_WAIT_S
        ):
            found = self.catalog.get(tenant, namespace, flow_id, revision)
        while found is None:
            # Deciding without the flow would apply the input as if it said nothing (a
            # worker's report lost, its execution waiting forever): the partition waits
            # until the catalog has caught up with the log, then knows.
            caught_up = await asyncio.to_thread(self.catalog.catch_up, CATALOG_WAIT_S)
            found = self.catalog.get(tenant, namespace, flow_id, revision)
            if found is None and caught_up:
                return self._missing(inp, tenant, namespace, flow_id, revision)
            if found is None:
                log.warning(
                    "waiting for the flow catalog to catch up",
                    extra={
                        "execution_id": inp.execution_id,
                        "flow": f"{namespace}.{flow_id}",
                        "revision": revision,
                    },
                )
        return found

    def _missing(
        self, inp: ExecutorMessage, tenant: str, namespace: str, flow_id: str, revision: int
    ) -> UnrunnableFlow:
        history = self.catalog.history(tenant, namespace, flow_id)
        stored = history is not None and revision in history.revisions
        reason = (
            f"flow {namespace}.{flow_id} revision {revision} does not validate any more"
            if stored
            else f"flow {namespace}.{flow_id} revision {revision} does not exist"
        )
        log.error(reason, extra={"execution_id": inp.execution_id, "message_id": inp.message_id})
        return UnrunnableFlow(reason=reason)

    def _from_source(self, source: str, revision: int) -> ValidatedFlow | UnrunnableFlow:
        cache_key = hash((source, revision))
        if cache_key not in self._sources:
            self._sources[cache_key] = flow_from_source(
                source, revision, self.registry, self.settings.limits
            )
            if len(self._sources) > 1024:
                self._sources.pop(next(iter(self._sources)))
        return self._sources[cache_key]

    async def _fire_timers(self) -> None:
        for command in self.timers.due(_now()):
            await self.commands_topic.send(
                key=command.execution_id.encode(), value=command.model_dump_json().encode()
            )

    async def _check_workers(self) -> None:
        """The worker health loop: a running attempt unheard of for too long runs again."""
        for lost in self.health.lost(_now()):
            log.warning(
                "worker lost; the task runs again",
                extra={
                    "execution_id": lost.execution_id,
                    "task_run_id": lost.task_run_id,
                    "attempt": lost.attempt,
                    "worker_id": lost.worker_id,
                },
            )
            await self.commands_topic.send(
                key=lost.execution_id.encode(), value=lost.model_dump_json().encode()
            )

    async def _partitions_revoked(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        """Records of partitions that move may change elsewhere: read them back later."""
        self.records.forget_cache()

    async def _rescan(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        """The indexes are memory only: rebuild them from the table once its partitions
        are restored (at start, and after a rebalance brings other partitions here).

        Once per rebalance, not periodically: records restored from the changelog are
        JSON, and parsing every one again and again would stall the agent."""
        now = _now()
        rebuilt = 0
        self.records.forget_cache()
        for execution_id in self.records.execution_ids():
            record = self.records.get(execution_id)
            if record is not None:
                self._plan_forget(execution_id, record)
            state = record.execution if record else None
            if state is None:
                continue
            rebuilt += 1
            # A flow retry's delayed command only while its new execution does not exist
            # here: sent again, it would only make that execution re-emit its first
            # events (its id is derived, so it is created once either way).
            retry_pending = state.next_attempt_id is not None and (
                not self.records.contains(state.next_attempt_id)
            )
            self.timers.rebuild_from(state, delayed=retry_pending)
            self.health.rebuild_from(state, now)
        log.info("timers and worker health rebuilt from the table", extra={"executions": rebuilt})


def decision_time(record: ExecutorRecord | None, arrived: dt.datetime) -> dt.datetime:
    """When an input is decided: its arrival, read once; never before the execution's last
    event (another executor's clock may have run ahead before a rebalance), so every
    execution's event times are in seq order, which time travel (as_of) relies on."""
    if record is None:
        return arrived
    latest = record.last_event_at or (record.recent[-1].time if record.recent else None)
    return latest if latest is not None and latest > arrived else arrived


def _store_url(settings: LannerSettings, table: str) -> str:
    """The table's store. Named, because Faust takes a bare "rocksdb://" (a URL without
    host or path, which is false) as no choice and falls back to the app's memory store.
    Only this table may live in RocksDB: its writes happen within an input's event, which
    the RocksDB store needs to know the partition (the input positions are written from
    a timer)."""
    if settings.executor_store == "rocksdb://":
        return f"rocksdb:{table}"
    return settings.executor_store


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def _stop_request(stop: StopJob) -> bytes:
    return json.dumps({"task_run_id": stop.task_run_id, "attempt": stop.attempt}).encode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
