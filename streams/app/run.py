"""Start one streams role (executor or worker) as a Faust worker in this process."""

from __future__ import annotations

import logging

import faust

from schemas.settings import LannerSettings
from streams.app.consumed_positions import ConsumedPositions
from streams.app.executor import Executor
from streams.app.faust_app import ensure_changelogs, make_app
from streams.app.gate import Gate
from streams.app.worker import Worker
from streams.flow_catalog import LiveFlowCatalog
from streams.log.admin import ensure_lanner_topics
from streams.log.topics import Topics
from streams.plugins.registry import PluginRegistry

log = logging.getLogger("lanner.streams")


def build_app(settings: LannerSettings, roles: set[str], app_name: str | None = None) -> faust.App:
    registry = PluginRegistry.discover()
    app = make_app(settings, app_name or "-".join(sorted(roles)))
    if "executor" in roles:
        catalog = LiveFlowCatalog(
            settings.kafka_bootstrap,
            Topics(settings.full_topic_prefix),
            registry,
            settings.limits,
        )
        catalog.start()
        # One tracking table for both agents of the executor app (streams/log/gaps.py).
        topics = Topics(settings.full_topic_prefix)
        positions = ConsumedPositions(
            app,
            settings.partitions,
            {topics.commands, topics.worker_results, topics.concurrency},
        )
        Executor(app, settings, catalog, registry, positions)
        Gate(app, settings, positions)
    if "worker" in roles:
        jobs = {Topics(settings.full_topic_prefix).worker_jobs}
        positions = ConsumedPositions(app, settings.partitions, jobs, durable=False)
        Worker(app, settings, registry, positions)
    return app


def run_roles(
    settings: LannerSettings,
    roles: set[str],
    loglevel: str = "WARNING",
    app_name: str | None = None,
) -> None:
    ensure_lanner_topics(settings)
    app = build_app(settings, roles, app_name)
    ensure_changelogs(app, settings)
    log.info("starting streams roles", extra={"roles": sorted(roles), "tenant": settings.tenant_id})
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False)
    # Faust's start-up spinner writes cursor codes (ESC[?25l / ESC[?25h) even when its
    # output is a pipe or a file; a role is one process of a tree, never the terminal's.
    worker.spinner = None
    worker.execute_from_commandline()
