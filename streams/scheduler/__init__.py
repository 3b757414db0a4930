"""The scheduler role: schedule triggers fired by a leader-only Faust timer, the Kafka
trigger listeners and the HTTP trigger poller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING

from schemas.settings import LannerSettings
from streams.log.admin import ensure_lanner_topics

if TYPE_CHECKING:
    from streams.flow_catalog import FlowSources
    from streams.log.producer import LogProducer
    from streams.log.topics import Topics
    from streams.triggers.kafka_manager import KafkaTriggerManager
    from streams.triggers.view import LiveTriggerStates
    from streams.writers.executions import ExecutionWriter

log = logging.getLogger("lanner.scheduler")

# After the second's boundary: the slot is then no longer in the future on this clock.
TICK_OFFSET_S = 0.002


def run_scheduler(settings: LannerSettings) -> None:
    if not settings.scheduler_enabled:
        # Stay up (a supervisor watches its children) but fire nothing.
        log.warning("the scheduler is disabled (LANNER_SCHEDULER_ENABLED=false)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        return
    import faust

    from streams.app.faust_app import ensure_changelogs, make_app
    from streams.flow_catalog import LiveFlowCatalog
    from streams.log.producer import LogProducer
    from streams.log.topics import Topics
    from streams.plugins.registry import PluginRegistry
    from streams.scheduler.service import Scheduler
    from streams.triggers.flow_agent import install_flow_triggers
    from streams.triggers.http_poller import HttpTriggerPoller
    from streams.triggers.view import LiveTriggerStates
    from streams.writers.executions import ExecutionWriter

    ensure_lanner_topics(settings)
    topics = Topics(settings.full_topic_prefix)
    catalog = LiveFlowCatalog(
        settings.kafka_bootstrap, topics, PluginRegistry.discover(), settings.limits
    ).start()
    producer = LogProducer(settings.kafka_bootstrap, client_id="lanner-scheduler")
    execution_writer = ExecutionWriter(
        producer, catalog, topics, settings.tenant_id, settings.limits
    )
    # Every trigger's state (last fires, disabled, backfills), followed live: an
    # operator's TriggerDisabled reaches the next tick.
    states = LiveTriggerStates(settings.kafka_bootstrap, topics).start()
    scheduler = Scheduler(settings.tenant_id, catalog, execution_writer, producer, topics, states)
    app = make_app(settings, "scheduler")
    install_flow_triggers(app, settings, catalog, execution_writer, states)

    async def fire_due() -> None:
        # On the first tick as leader (not at start: the previous leader may have fired
        # since), and after the follower had to read the topic again (until then a
        # disabled trigger would look enabled): nothing fires before everything written
        # so far is folded.
        if not await asyncio.to_thread(states.ready, 30.0):
            log.warning("trigger states not caught up yet; not firing this tick")
            return
        await asyncio.to_thread(scheduler.tick)

    # Whether this process leads, as the app's own loop last saw it. The HTTP pollers'
    # threads read this flag and never Faust's consumer: seen in CI, a poller thread that
    # asked `app.is_leader()` before the worker had started made Faust create its consumer
    # there, and the scheduler died at start ("Future attached to a different loop").
    leading = threading.Event()

    async def fire_on_each_second() -> None:
        # Slots fall on whole seconds (cron, withSeconds, dates): ticking just after each
        # boundary fires a slot within milliseconds, where a free-running 1 s timer
        # drifted up to a second behind it.
        while not app.should_stop:
            await app.sleep(1.0 - time.time() % 1.0 + TICK_OFFSET_S)
            if app.is_leader():
                leading.set()
                await fire_due()
            else:
                leading.clear()

    app.task(fire_on_each_second)

    # Kafka trigger listeners run in every scheduler process, not only the leader: their
    # consumer groups spread each trigger's partitions over the processes.
    kafka_triggers = start_kafka_triggers(
        settings, catalog, states, producer, execution_writer, topics
    )
    # HTTP triggers poll from the leader only, on threads of their own (never the ticks').
    http_triggers = HttpTriggerPoller(
        settings.tenant_id,
        catalog,
        states,
        execution_writer,
        producer,
        topics,
        active=lambda: leading.is_set() and states.ready(30.0),
    ).start()
    ensure_changelogs(app, settings)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False)
    worker.spinner = None  # no cursor codes in log files (streams/app/run.py says why)
    try:
        worker.execute_from_commandline()
    finally:
        kafka_triggers.stop()
        http_triggers.stop()


def start_kafka_triggers(
    settings: LannerSettings,
    catalog: FlowSources,
    states: LiveTriggerStates,
    producer: LogProducer,
    execution_writer: ExecutionWriter,
    topics: Topics,
) -> KafkaTriggerManager:
    from streams.storage import storage_from_env
    from streams.triggers.kafka_manager import KafkaTriggerManager
    from streams.triggers.kafka_target import ListenerPorts

    ports = ListenerPorts(
        producer=producer,
        execution_writer=execution_writer,
        topics=topics,
        trigger_state=states.get,
        catch_up_states=states.catch_up,
        storage=storage_from_env(settings.environ, settings.data_dir),
    )
    return KafkaTriggerManager(settings.tenant_id, catalog, states, ports).start()
