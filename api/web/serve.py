"""`lanner server webserver`: the API under uvicorn on settings.api_host:api_port."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

import uvicorn

from api.web.app import create_app
from schemas.settings import LannerSettings

log = logging.getLogger(__name__)
# A stop request (SIGTERM) waits this long for requests in flight (SSE followers never end
# by themselves), then closes them: a stop is honoured within seconds even while busy.
GRACEFUL_SHUTDOWN_S = 3
# Then the threads that ran blocking routes get this long to finish before the process
# leaves without them (Python would otherwise wait for every one at exit).
THREADS_GRACE_S = 2.0


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
            print(
                f"lanner: port {port} on {host} for the API is already taken ({exc.strerror}):"
                " stop what uses it, or set LANNER_API_PORT to a free port",
                file=sys.stderr,
            )
            raise PortTaken(1) from None


def serve(settings: LannerSettings) -> None:
    check_port_free(settings.api_host, settings.api_port)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    uvicorn.Server(config).run()
    leave_within(THREADS_GRACE_S)


def leave_within(seconds: float) -> None:
    """Join the threads still running (request handlers whose clients are gone) for up to
    `seconds`; past that, exit without them."""
    deadline = time.monotonic() + seconds
    main = threading.main_thread()
    busy = [t for t in threading.enumerate() if t is not main and not t.daemon]
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in busy if t.is_alive()]
    if stuck:
        log.warning("api stopping with request threads still busy", extra={"threads": stuck})
        logging.shutdown()
        os._exit(0)
