"""The FastAPI application: create_app(settings) wires the services and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool

from api.web import (
    errors,
    routes_audit,
    routes_control,
    routes_executions,
    routes_flows,
    routes_logs,
    routes_ops,
)
from api.web.services import Services
from schemas.settings import LannerSettings

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def create_app(settings: LannerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await run_in_threadpool(Services.start, settings)
        app.state.services = svc
        log.info("api started", extra={"tenant": settings.tenant_id,
                                       "index_prefix": settings.full_index_prefix})
        try:
            yield
        finally:
            await run_in_threadpool(svc.stop)

    app = FastAPI(title="Lanner", version="0.1.0", lifespan=lifespan)
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)
    # routes_control before routes_executions: POST /{namespace}/{flow_id} would match
    # /{id}/restart too.
    for module in (routes_flows, routes_control, routes_executions, routes_logs, routes_audit):
        api.include_router(module.router)
    api.include_router(routes_ops.router)
    app.include_router(api)
    # Probes and scrapers expect /health and /metrics at the root, without the API prefix.
    app.include_router(routes_ops.router, include_in_schema=False)
    return app
