"""Pre-fetch what the integration tests start: `python -m tests.harness.fetch`.

`./dev setup` calls this so the first test run does not pay for downloads inside a
timed fixture.
"""

from __future__ import annotations

import logging
import sys
import time

from tests.harness.common import HarnessError, cache_dir
from tests.harness.elasticsearch_node import ES_VERSION, fetch_es_distribution
from tests.harness.kafka_broker import KAFKA_VERSION, fetch_kafka_libs


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    started = time.monotonic()
    try:
        libs = fetch_kafka_libs()
        home = fetch_es_distribution()
    except HarnessError as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"cache {cache_dir()}: kafka {KAFKA_VERSION} ({len(list(libs.glob('*.jar')))} jars), "
        f"elasticsearch {ES_VERSION} at {home.name} "
        f"[{time.monotonic() - started:.1f} s]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
