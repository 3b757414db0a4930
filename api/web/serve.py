"""`lanner server webserver`: the API under uvicorn on settings.api_host:api_port."""

from __future__ import annotations

import uvicorn

from api.web.app import create_app
from schemas.settings import LannerSettings


def serve(settings: LannerSettings) -> None:
    config = uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                            log_config=None, access_log=False)
    uvicorn.Server(config).run()
