"""The scheduler role: schedule triggers fired by a leader-only Faust timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from schemas.settings import LannerSettings

log = logging.getLogger("lanner.scheduler")


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

    from streams.app.faust_app import make_app
    from streams.app.run import ensure_lanner_topics
    from streams.flow_catalog import LiveFlowCatalog
    from streams.gateway.executions import ExecutionGateway
    from streams.log.producer import LogProducer
    from streams.log.topics import Topics
    from streams.plugins.registry import PluginRegistry
    from streams.scheduler.service import Scheduler
    from streams.triggers.view import LiveTriggerStates

    ensure_lanner_topics(settings)
    topics = Topics(settings.full_topic_prefix)
    catalog = LiveFlowCatalog(settings.kafka_bootstrap, topics, PluginRegistry.discover()).start()
    producer = LogProducer(settings.kafka_bootstrap, client_id="lanner-scheduler")
    gateway = ExecutionGateway(producer, catalog, topics, settings.tenant_id)
    # Every trigger's state (last fires, disabled, backfills), followed live: an
    # operator's TriggerDisabled reaches the next tick.
    states = LiveTriggerStates(settings.kafka_bootstrap, topics).start()
    scheduler = Scheduler(settings.tenant_id, catalog, gateway, producer, topics, states)
    app = make_app(settings, "scheduler")
    caught_up_at: int | None = None  # states.resets when last caught up

    async def fire_due() -> None:
        nonlocal caught_up_at
        if caught_up_at != states.resets:
            # On becoming leader (not at start: the previous leader may have fired since),
            # and after the follower had to read the topic again: nothing fires before
            # everything written so far is folded.
            resets = states.resets
            if not await asyncio.to_thread(states.catch_up, 30.0):
                log.warning("trigger states not caught up yet; not firing this tick")
                return
            caught_up_at = resets
        await asyncio.to_thread(scheduler.tick)

    app.timer(interval=1.0, on_leader=True)(fire_due)

    faust.Worker(
        app, loglevel="WARNING", quiet=True, override_logging=False
    ).execute_from_commandline()
