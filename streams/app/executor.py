"""The executor role: a Faust agent over `commands` and `worker-results`.

Per input: look the execution up in the changelog-backed table, run the pure
`handle`, store the new record, then write the events and what they imply (worker jobs,
commands to other executions, log lines). All I/O of the executor is in this file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import faust

from schemas.commands import EXECUTOR_INPUT_ADAPTER, CreateExecution, ExecutorInput, WakeUp
from schemas.settings import LannerSettings
from streams.app.codecs import RECORD_CODEC
from streams.app.faust_app import raw_topic
from streams.core.effects import effects_of
from streams.core.handle import ExecutorRecord, handle
from streams.core.validation import ValidatedFlow, validate_flow
from streams.flow_catalog import FlowSources
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

log = logging.getLogger("lanner.executor")

# How long the executor waits for its flow catalog to catch up with a revision that a
# command names before it gives up on that input (logged, then skipped).
CATALOG_WAIT_S = 10.0
MAX_STATE_BYTES = 8 * 1024 * 1024


class Executor:
    def __init__(
        self,
        app: faust.App,
        settings: LannerSettings,
        catalog: FlowSources,
        registry: PluginRegistry,
    ) -> None:
        self.app = app
        self.settings = settings
        self.catalog = catalog
        self.registry = registry
        topics = Topics(settings.full_topic_prefix)
        self.inputs = raw_topic(app, topics.commands, topics.worker_results)
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
            # A large execution's record can pass Kafka's 1 MB default.
            extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
        )
        # Faust derives serializers from types only; the record codec keeps values as
        # objects in memory and JSON on the changelog. Set before the store is created.
        self.table.value_serializer = RECORD_CODEC  # type: ignore[attr-defined]
        # execution id -> due WakeUp commands (Pause delays): timers are facts in the
        # state; this is only an index of them, rebuilt from the table after a restart.
        self.timers: dict[str, list[WakeUp]] = {}
        self._sources: dict[int, ValidatedFlow | None] = {}
        app.agent(self.inputs, name="executor")(self._agent)
        app.timer(interval=0.25)(self._fire_timers)
        app.timer(interval=30.0, on_leader=False)(self._rescan_timers)

    async def _agent(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                inp = EXECUTOR_INPUT_ADAPTER.validate_json(event.value)
            except ValueError as exc:
                log.error(
                    "skipping a malformed executor input",
                    extra={
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                        "error": str(exc)[:500],
                    },
                )
                continue
            try:
                await self._process(inp)
            except Exception:
                # Skipping is safer than stopping the agent: a stopped agent halts every
                # execution on its partitions. Decisions themselves never raise (handle).
                log.exception(
                    "input could not be processed",
                    extra={
                        "execution_id": inp.execution_id,
                        "input": inp.input_id,
                        "partition": message.partition,
                        "offset": message.offset,
                    },
                )

    async def _process(self, inp: ExecutorInput) -> None:
        key = inp.execution_id.encode()
        record = self._record(key)
        flow = await self._flow_for(inp, record)
        result = handle(record, flow, inp, self.catalog)
        if not result.replayed:
            self.table[key] = result.record
        elif result.events:
            log.info(
                "re-emitting the events of an input seen before",
                extra={"execution_id": inp.execution_id, "input": inp.input_id},
            )
        if not result.events:
            return
        state = result.record.execution
        assert state is not None
        for ev in result.events:
            await self.events_topic.send(key=key, value=ev.model_dump_json().encode())
        effects = effects_of(state, result.events)
        for job in effects.jobs:
            await self.jobs_topic.send(
                key=job.task_run_id.encode(), value=job.model_dump_json().encode()
            )
        for command in effects.commands:
            await self.commands_topic.send(
                key=command.execution_id.encode(), value=command.model_dump_json().encode()
            )
        for line in effects.logs:
            await self.logs_topic.send(key=key, value=line.model_dump_json().encode())
        if effects.timers:
            self.timers.setdefault(inp.execution_id, []).extend(effects.timers)
        if state.state.is_terminal:
            self.timers.pop(inp.execution_id, None)

    def _record(self, key: bytes) -> ExecutorRecord | None:
        """The table's record: an object when this process wrote it, JSON bytes when it
        was restored from the changelog after a restart (Faust's recovery does not apply
        the table's codec)."""
        value = self.table.get(key)
        if isinstance(value, bytes | bytearray):
            return ExecutorRecord.model_validate_json(value)
        return value if isinstance(value, ExecutorRecord) else None

    async def _flow_for(
        self, inp: ExecutorInput, record: ExecutorRecord | None
    ) -> ValidatedFlow | None:
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
        if found is None:
            log.error(
                "flow revision not found",
                extra={
                    "execution_id": inp.execution_id,
                    "flow": f"{namespace}.{flow_id}",
                    "revision": revision,
                },
            )
        return found

    def _from_source(self, source: str, revision: int) -> ValidatedFlow | None:
        cache_key = hash((source, revision))
        if cache_key not in self._sources:
            result = validate_flow(source, self.registry)
            self._sources[cache_key] = (
                None
                if isinstance(result, list)
                else ValidatedFlow(
                    flow=result.flow.model_copy(update={"revision": revision}), tasks=result.tasks
                )
            )
            if len(self._sources) > 1024:
                self._sources.pop(next(iter(self._sources)))
        return self._sources[cache_key]

    async def _fire_timers(self) -> None:
        now = dt.datetime.now(dt.UTC)
        for execution_id in list(self.timers):
            due = [w for w in self.timers.get(execution_id, []) if w.due <= now]
            if not due:
                continue
            rest = [w for w in self.timers[execution_id] if w.due > now]
            self.timers[execution_id] = rest
            if not rest:
                self.timers.pop(execution_id, None)
            for wake in due:
                await self.commands_topic.send(
                    key=execution_id.encode(), value=wake.model_dump_json().encode()
                )

    async def _rescan_timers(self) -> None:
        """After a restart the index is empty: rebuild it from the paused task runs."""
        for key in list(self.table.keys()):
            record = self._record(key)
            state = record.execution if record else None
            if state is None or state.state.is_terminal:
                continue
            for run in state.task_runs.values():
                if run.resume_at is not None and str(run.state) == "PAUSED":
                    wake = WakeUp(
                        command_id=f"wake:{run.id}:{run.resume_at.isoformat()}",
                        execution_id=state.id,
                        time=run.resume_at,
                        task_run_id=run.id,
                        due=run.resume_at,
                    )
                    pending = self.timers.setdefault(state.id, [])
                    if all(w.command_id != wake.command_id for w in pending):
                        pending.append(wake)
