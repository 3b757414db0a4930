"""`lanner server webserver`: the API under uvicorn on settings.api_host:api_port."""

from __future__ import annotations

import uvicorn

from api.web.app import create_app
from schemas.settings import LannerSettings

# A stop request (SIGTERM) waits this long for requests in flight (SSE followers never end
# by themselves), then closes them: a stop is honoured within seconds even while busy.
GRACEFUL_SHUTDOWN_S = 3


def serve(settings: LannerSettings) -> None:
    config = uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                            log_config=None, access_log=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    uvicorn.Server(config).run()
