"""librdkafka's own log lines, through Python logging, warnings and worse only.

A confluent-kafka client made without a `logger` prints librdkafka's lines straight to
stderr in its own format (`%6|1700000000.123|BGQUEUE|rdkafka#producer-1| ...`), at
informational level too, past every handler and formatter. Every client of ours is made
with `kafka_logging()` in its configuration: lines at warning or above (librdkafka's
`log_level` 4, syslog numbering) go to the `librdkafka` Python logger, which
`api.logs.configure_logging` formats like every other line.
"""

from __future__ import annotations

import logging
from typing import Any

LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
# syslog severities as librdkafka numbers them: 4 is warning, 6 info, 7 debug.
_WARNING = 4


def kafka_logging() -> dict[str, Any]:
    """The client configuration entries that route librdkafka's lines (merge it last)."""
    return {"logger": LIBRDKAFKA_LOGGER, "log_level": _WARNING}


def admin_config(bootstrap: str) -> dict[str, Any]:
    """An AdminClient's configuration: the bootstrap servers and quiet logs."""
    return {"bootstrap.servers": bootstrap, **kafka_logging()}
