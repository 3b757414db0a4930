"""The worker role: runs the jobs the executor dispatches, reports how they ended.

Jobs run at least once (a worker that dies mid-task leaves its job to be redelivered);
a (task run, attempt) this worker already finished is not run again, and the executor
ignores reports for attempts that are no longer current.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from pydantic import ValidationError

from projections.store.client import SearchStore
from schemas.settings import LannerSettings
from schemas.states import State
from schemas.worker import LogLine, TaskRunReport, WorkerJob
from streams.app.consumed_positions import ConsumedPositions
from streams.app.decoding import decode_or_log
from streams.app.faust_app import kafka_producer, raw_topic
from streams.app.views_port import SearchViews
from streams.app.worker_control import listen_for_stops
from streams.app.worker_logs import LogBatches
from streams.app.working_directory import run_working_directory
from streams.core.bounds import Bounds
from streams.deferred_lookups import DeferredError
from streams.log.topics import Topics
from streams.plugins.base import (
    InlineLog,
    InlineTask,
    LogLevel,
    Outcome,
    WorkerContext,
    WorkerTask,
)
from streams.plugins.core.working_directory import WorkingDirectory
from streams.plugins.registry import PluginRegistry
from streams.worker_edges import WorkerEdges

log = logging.getLogger("lanner.worker")

_DONE_MEMORY = 10_000
# The executor's health loop declares a worker lost after a few missed beats.
HEARTBEAT_S = 2.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _settle(announce: asyncio.Future[None]) -> None:
    """Stop a "started" report that is not due yet; one already handed to the producer
    stays ahead of the reports that follow (same key, same partition, sent in order)."""
    if not announce.done():
        announce.cancel()
    try:
        await asyncio.shield(announce)
    except asyncio.CancelledError:
        if not announce.cancelled():
            raise  # this coroutine itself is being cancelled (the worker stops)
    except Exception:
        log.exception("the started report could not be sent")


class Worker:
    def __init__(
        self,
        app: faust.App,
        settings: LannerSettings,
        registry: PluginRegistry,
        positions: ConsumedPositions,
    ) -> None:
        self.app = app
        self.positions = positions
        self.registry = registry
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}"
        topics = Topics(settings.full_topic_prefix)
        self.jobs = raw_topic(app, topics.worker_jobs)
        self.results_topic = topics.worker_results
        self.logs = LogBatches(app, topics.logs)
        # Secrets, masking, storage, KV and deferred lookups (streams/worker_edges.py).
        self.edges = WorkerEdges(
            settings.environ,
            settings.data_dir,
            settings.kafka_bootstrap,
            topics.kv_events,
            raw_topic(app, topics.kv_events),
            tenant=settings.tenant_id,
            secrets_topic=topics.secrets,
            secret_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
            # A deferred template renders here within the executor's limits and clock.
            render_limits=Bounds(settings.limits, clock=time.monotonic).render(),
            files_topic_name=topics.namespace_files,
            files_topic=raw_topic(app, topics.namespace_files),
        )
        # The views and the command topic, for Count, Resume, log.Fetch and the purges.
        commands = raw_topic(app, topics.commands)

        async def send_command(key: str, value: bytes) -> None:
            await (await commands.send(key=key.encode(), value=value))

        self.views = SearchViews(
            SearchStore(settings.elasticsearch_url, settings.full_index_prefix), send_command
        )
        self.done: OrderedDict[str, None] = OrderedDict()
        self.taken: set[str] = set()  # job ids this worker's actors are running now
        # task run id -> (job, the coroutine running it): for heartbeats and stops.
        self.running: dict[str, tuple[WorkerJob, asyncio.Task[Outcome]]] = {}
        self.stopped: set[str] = set()
        # Task runs whose "started" report is sent: only those are under the executor's
        # health loop, so only those send heartbeats.
        self.announced: set[str] = set()
        self.started_report_delay_s = settings.worker_started_report_delay_s
        self._control_topic = topics.worker_control
        self._bootstrap = settings.kafka_bootstrap
        self._closing = asyncio.Event()
        app.agent(self.jobs, name="worker", concurrency=settings.worker_threads)(self._agent)
        app.timer(interval=HEARTBEAT_S)(self._beat)
        app.task(self._listen)

    async def _listen(self) -> None:
        await listen_for_stops(self._bootstrap, self._control_topic, self._stop, self._closing)

    def _stop(self, task_run_id: str, attempt: int) -> None:
        running = self.running.get(task_run_id)
        if running is not None and running[0].attempt == attempt:
            log.info(
                "stopping a killed task", extra={"task_run_id": task_run_id, "attempt": attempt}
            )
            self.stopped.add(task_run_id)
            running[1].cancel()

    async def _beat(self) -> None:
        for job, _task in list(self.running.values()):
            if job.task_run_id in self.announced:
                await self._report(job, "heartbeat")

    async def _agent(self, stream: Any) -> None:
        async for event in self.positions.events(stream, applied_when_taken=True):
            job = decode_or_log(event, WorkerJob.model_validate_json, "worker job", log)
            if job is None:
                continue
            if job.job_id in self.done or job.job_id in self.taken:
                # A redelivered copy (a seek back over a hole, a rebalance): the attempt
                # ran or runs here already; its reports are on their way.
                continue
            self.taken.add(job.job_id)
            try:
                await self.run_job(job)
            finally:
                self.taken.discard(job.job_id)
            self.done[job.job_id] = None
            if len(self.done) > _DONE_MEMORY:
                self.done.popitem(last=False)

    async def _report(
        self,
        job: WorkerJob,
        kind: Any,
        outcome: Outcome | None = None,
        *,
        flush_logs: bool = False,
    ) -> None:
        """Send a report; `flush_logs`: the execution's queued log lines go first, so no
        line of a task run is behind the report that ends it."""
        if outcome is not None and (outcome.outputs or outcome.error or outcome.metrics):
            # Masked, defanged, big outputs spilled: in a thread (storage I/O), which an
            # outcome with neither outputs nor error does not need (it would come back
            # unchanged), so a quick task's report does not wait for a thread hand-off.
            outcome = await self.edges.publishable(job, outcome)
        if flush_logs:
            await self.logs.flush(job.execution_id.encode())
        report = TaskRunReport(
            kind=kind,
            execution_id=job.execution_id,
            task_run_id=job.task_run_id,
            attempt=job.attempt,
            worker_id=self.worker_id,
            time=_now(),
            state=outcome.state if outcome else None,
            outputs=dict(outcome.outputs) if outcome else {},
            error=outcome.error if outcome else None,
            children=outcome.children if outcome else (),
            metrics=outcome.metrics if outcome else (),
        )
        # Straight to aiokafka, as the log lines just flushed: no await yields between them,
        # so the report leaves in their produce request, not one round trip after it.
        await kafka_producer(self.app).send(
            self.results_topic, report.model_dump_json().encode(), key=job.execution_id.encode()
        )

    async def _announce(self, job: WorkerJob, delay_s: float = 0.0) -> None:
        """The "started" report of a task still running after the delay: from then on the
        executor's health loop watches it (heartbeats), and re-runs it if they stop."""
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        await self._report(job, "started")
        self.announced.add(job.task_run_id)

    async def run_job(self, job: WorkerJob) -> None:
        # A task that ends within the delay sends no "started" report, only "finished"
        # (which names the worker): one executor input fewer per quick task, the main
        # cost of a worker-bound hop. Nothing is lost if this worker dies before either
        # report: the agent acks a job only once run_job returns, Faust commits only
        # contiguous acked offsets and flushes the producer before it commits, so the
        # job's offset stays uncommitted until a report is on the broker, and the job is
        # delivered again to the worker that takes the partition over
        # (tests/integration/test_worker_started_report.py SIGKILLs a worker in that
        # window). A longer task reports "started" and heartbeats as before.
        announce: asyncio.Future[None] | None = None
        if self.started_report_delay_s > 0:
            announce = asyncio.ensure_future(self._announce(job, self.started_report_delay_s))
        else:
            await self._announce(job)
        write_log = self.log_writer(job)
        running = asyncio.ensure_future(self._run(job, write_log))
        self.running[job.task_run_id] = (job, running)
        try:
            outcome = await asyncio.shield(running)
        except asyncio.CancelledError:
            if job.task_run_id not in self.stopped:
                # This worker is shutting down: hand the attempt back so it runs elsewhere
                # now, rather than after the group notices this worker is gone.
                running.cancel()
                if announce is not None:
                    await _settle(announce)  # a "started" report is never behind this one
                await asyncio.shield(self._report(job, "abandoned", flush_logs=True))
                raise
            outcome = Outcome(State.KILLED, error=f"task {job.task_id}: killed")
        finally:
            self.running.pop(job.task_run_id, None)
            self.stopped.discard(job.task_run_id)
            if announce is not None:
                await _settle(announce)
            self.announced.discard(job.task_run_id)
        if outcome.error:
            await write_log("ERROR", outcome.error)
        await self._report(job, "finished", outcome, flush_logs=True)
        self.edges.forget(job)

    def task_context(
        self,
        job: WorkerJob,
        log: Callable[[LogLevel, str], Awaitable[None]],
        now: Callable[[], dt.datetime],
        **extra: Any,
    ) -> WorkerContext:
        """What a task running the job sees (`extra`: more fields, e.g. a shared folder)."""
        return WorkerContext(
            execution_id=job.execution_id,
            task_run_id=job.task_run_id,
            attempt=job.attempt,
            namespace=job.namespace,
            flow_id=job.flow_id,
            log=log,
            now=now,
            task_run_value=job.value,
            **extra,
            **self.edges.context_fields(job, now),  # storage, KV, workdir, env
        )

    def log_writer(self, job: WorkerJob) -> Callable[[LogLevel, str], Awaitable[None]]:
        """Writes the log lines of the job's task run, numbered, secrets masked."""
        index = 0

        async def write_log(level: LogLevel, message: str) -> None:
            nonlocal index
            line = LogLine(
                tenant=job.tenant,
                namespace=job.namespace,
                flow_id=job.flow_id,
                execution_id=job.execution_id,
                task_run_id=job.task_run_id,
                task_id=job.task_id,
                attempt=job.attempt,
                level=level,
                message=self.edges.mask(message, job),  # secrets never reach a log
                time=_now(),
                index=index,
            )
            index += 1
            await self.logs.add(job.execution_id.encode(), line.model_dump_json().encode())

        return write_log

    async def _run(self, job: WorkerJob, write_log: Any) -> Outcome:
        plugin = self.registry.get(str(job.task.get("type")))
        name = f"task {job.task_id} (execution {job.execution_id})"
        if plugin is None:
            return Outcome(
                State.FAILED,
                error=f"{name}: no plugin for type {job.task.get('type')!r} on this worker",
            )
        try:
            # secret()/kv()/read() were deferred by the executor; resolved here.
            task = plugin.model_validate(await self.edges.resolve(job, _now))
        except DeferredError as exc:
            return Outcome(State.FAILED, error=f"{name}: {exc}")
        except ValidationError as exc:
            return Outcome(State.FAILED, error=f"{name}: invalid properties: {exc}")
        if isinstance(task, WorkingDirectory):
            limit = (job.deadline - _now()).total_seconds() if job.deadline else None
            try:
                return await asyncio.wait_for(run_working_directory(self, job, task, _now), limit)
            except TimeoutError:
                return Outcome(State.FAILED, error=f"{name}: timed out after {task.timeout}")
        if isinstance(task, InlineTask):
            # An inline task (Log, Return...) comes here when it uses secret()/kv()/read():
            # only a worker can resolve those, and its logs and outputs are masked.
            lines: list[InlineLog] = []
            outcome = task.run_inline(lines)
            if outcome.labels or outcome.exit_state is not None:
                # Labels and Exit change their execution, which only the executor does.
                return Outcome(
                    State.FAILED,
                    error=f"{name}: {plugin.TYPE} cannot use secret(), kv() or read()",
                )
            for line in lines:
                await write_log(line.level, line.message)
            return outcome
        if not isinstance(task, WorkerTask):
            return Outcome(State.FAILED, error=f"{name}: {plugin.TYPE} does not run on workers")
        ctx = self.task_context(job, write_log, _now, views=self.views)
        timeout = (job.deadline - _now()).total_seconds() if job.deadline else None
        try:
            return await asyncio.wait_for(task.run(ctx), timeout=timeout)
        except TimeoutError:
            return Outcome(State.FAILED, error=f"{name}: timed out after {task.timeout}")
        except Exception as exc:  # the task's failure, not the worker's
            log.exception(
                "task raised",
                extra={
                    "execution_id": job.execution_id,
                    "task_run_id": job.task_run_id,
                    "task_id": job.task_id,
                },
            )
            return Outcome(State.FAILED, error=f"{name} raised {type(exc).__name__}: {exc}")
