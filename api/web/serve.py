"""`lanner server webserver`: the API under uvicorn on settings.api_host:api_port."""

from __future__ import annotations

import socket
import sys

import uvicorn

from api.web.app import create_app
from schemas.settings import LannerSettings


class PortTaken(SystemExit):
    pass


def check_port_free(host: str, port: int) -> None:
    """Exit with one line naming the port when it is taken (uvicorn would log a traceback-
    like error and leave the supervisor guessing why the webserver stopped)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: TIME_WAIT leftovers of a previous run do not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            print(f"lanner: port {port} on {host} for the API is already taken ({exc.strerror}):"
                  " stop what uses it, or set LANNER_API_PORT to a free port", file=sys.stderr)
            raise PortTaken(1) from None


def serve(settings: LannerSettings) -> None:
    check_port_free(settings.api_host, settings.api_port)
    config = uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                            log_config=None, access_log=False)
    uvicorn.Server(config).run()
